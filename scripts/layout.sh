# Which ROS 2 this checkout builds against, and where its venv, build and install trees live.
# Sourced by scripts/setup.sh and scripts/env.sh so both always agree.
# shellcheck shell=bash
#
#   ROBOVLA_ROS_DISTRO unset   the distro under /opt/ros if there is one, else the Kilted wheels
#   ROBOVLA_ROS_DISTRO=jazzy   /opt/ros/jazzy if installed, else the Jazzy PyPI wheels
#   ROBOVLA_ROS_DISTRO=kilted  /opt/ros/kilted if installed, else the Kilted PyPI wheels
#   ROBOVLA_ROS_DISTRO=humble  /opt/ros/humble (there are no Humble wheels)
#
# Sets ROBOVLA_ROS_SETUP (a distro's setup.bash, or empty for wheels), ROBOVLA_WHEELS (kilted |
# jazzy | empty), ROBOVLA_VENV, ROBOVLA_BUILD_BASE, ROBOVLA_INSTALL_BASE. The default (Kilted
# wheels or a distro) uses .venv/build/install; other wheel distros get their own trees
# (.venv-jazzy, build-jazzy, install-jazzy), because the wheels of two distros share
# distribution names and cannot live in one venv.
_robovla_layout() {
  local root=$1 want=${ROBOVLA_ROS_DISTRO:-} d
  ROBOVLA_ROS_SETUP="" ROBOVLA_WHEELS=""
  if [ -n "$want" ]; then
    if [ -f "/opt/ros/$want/setup.bash" ]; then
      ROBOVLA_ROS_SETUP=/opt/ros/$want/setup.bash
    elif [ "$want" = kilted ] || [ "$want" = jazzy ]; then
      ROBOVLA_WHEELS=$want
    else
      echo "ROBOVLA_ROS_DISTRO=$want: no /opt/ros/$want and no PyPI wheels for it (kilted, jazzy)" >&2
      return 1
    fi
  else
    for d in ${ROS_DISTRO:+/opt/ros/$ROS_DISTRO/setup.bash} /opt/ros/*/setup.bash; do
      [ -f "$d" ] && { ROBOVLA_ROS_SETUP=$d; break; }
    done
    [ -n "$ROBOVLA_ROS_SETUP" ] || ROBOVLA_WHEELS=kilted
  fi
  local suffix=""
  [ -n "$ROBOVLA_WHEELS" ] && [ "$ROBOVLA_WHEELS" != kilted ] && suffix=-$ROBOVLA_WHEELS
  ROBOVLA_VENV=$root/.venv$suffix
  ROBOVLA_BUILD_BASE=$root/build$suffix
  ROBOVLA_INSTALL_BASE=$root/install$suffix
}
