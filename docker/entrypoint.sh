#!/usr/bin/env bash
set -e
source /opt/ros/jazzy/setup.bash
source /ws/src/robovla/install/setup.bash
exec "$@"
