"""MuJoCo Kinova Gen3 tabletop simulator (ROS-free core).

scene: the MJCF; env: Gen3SimEnv (ros2_kortex-like commands); tasks: language tasks and
success checkers; expert: scripted expert on privileged state; rollout: closed-loop episodes.
Modules import lazily so `import robovla.sim` does not load MuJoCo.
"""
