# Source this to use robovla from the repo: the venv, the ROS 2 it was built against (a distro
# under /opt/ros or the PyPI wheels; scripts/layout.sh) and this build. Set ROBOVLA_ROS_DISTRO
# as you did for scripts/setup.sh (e.g. ROBOVLA_ROS_DISTRO=jazzy for the Jazzy wheels' build).
# shellcheck shell=bash
_robovla_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=layout.sh
source "$_robovla_root/scripts/layout.sh"
if _robovla_layout "$_robovla_root"; then
  set +u
  [ -n "$ROBOVLA_ROS_SETUP" ] && source "$ROBOVLA_ROS_SETUP"
  export PATH="$ROBOVLA_VENV/bin:$PATH"
  export VIRTUAL_ENV="$ROBOVLA_VENV"
  if [ -f "$ROBOVLA_INSTALL_BASE/setup.bash" ]; then
    source "$ROBOVLA_INSTALL_BASE/setup.bash"
  else
    echo "robovla: $ROBOVLA_INSTALL_BASE is not built yet: run make setup" >&2
  fi
  export MUJOCO_GL=${MUJOCO_GL:-egl}
  # Keep DDS traffic on this machine unless the user says otherwise (robots set their own).
  export ROS_AUTOMATIC_DISCOVERY_RANGE=${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}
fi
unset _robovla_root
unset -f _robovla_layout
