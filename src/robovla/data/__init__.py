"""Demonstrations: rosbag2 (MCAP) episodes, their alignment into training windows, LeRobot v3 interop.

    from robovla.data.episode_writer import EpisodeWriter, recover_incomplete   # recording, crash salvage
    from robovla.data.dataset import DataConfig, load_episodes, WindowDataset   # bags -> training samples
    from robovla.data.lerobot import export_lerobot, iter_lerobot               # parquet + mp4 (streamed)
    from robovla.data.lerobot_check import validate_lerobot                     # LeRobot's format facts
    from robovla.data.replay import BagReplay                                   # a bag in time order, with its QoS

Submodules are imported explicitly so recording code does not pull in torch.
"""
