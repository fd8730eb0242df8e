# Source this to use robovla from the repo: the venv, the ROS distro (if any) and our build.
# shellcheck shell=bash
_robovla_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
for _d in /opt/ros/*/setup.bash; do [ -f "$_d" ] && { set +u; source "$_d"; break; }; done
export PATH="$_robovla_root/.venv/bin:$PATH"
export VIRTUAL_ENV="$_robovla_root/.venv"
set +u
source "$_robovla_root/install/setup.bash"
export MUJOCO_GL=${MUJOCO_GL:-egl}
# Keep DDS traffic on this machine unless the user says otherwise (robots set their own).
export ROS_AUTOMATIC_DISCOVERY_RANGE=${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}
unset _robovla_root _d
