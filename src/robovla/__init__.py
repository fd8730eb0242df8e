"""RoboVLA: vision-language-action policies on ROS 2 arms (RoboVLMs design)."""

# The generated interfaces (robovla.msg / .srv / .action) are installed by colcon next to a copy
# of these sources; extending __path__ lets a source checkout on PYTHONPATH (tests, development)
# still find them in the install tree.
__path__ = __import__("pkgutil").extend_path(__path__, __name__)

__version__ = "0.1.0"
