#!/usr/bin/env bash
# Build llama.cpp's `llama-server` and `ggml-rpc-server` (upstream's rpc-server) once per
# machine and keep them in a cache outside the repository, the way pip's wheel cache keeps the
# llama-cpp-python wheel. tests/robustness/test_rpc_split.py uses them; `make llama-rpc` runs this.
#
# The source is the llama.cpp that llama-cpp-python vendors (vendor/llama.cpp in its sdist), at
# the version installed in the virtual environment, so the server computes what Glassbox's local
# engine computes. The cache key is that version:
#     ${GLASSBOX_LLAMA_RPC_CACHE:-${XDG_CACHE_HOME:-~/.cache}/glassbox/llama-rpc}/
#         llama-cpp-python-<version>/bin
# A present folder is reused as is; a build happens in a temporary folder beside it and is
# renamed into place only when both programs exist, so an interrupted build leaves nothing that
# looks finished. The build is native (-march=native): the programs are for this machine only.
# Measured with llama-cpp-python 0.3.36 on 2 shared cores, -j2: about 16 CPU-minutes (15m15s to
# 15m41s user + about 1 min system), 21-23 minutes of wall time while other builds and tests
# kept the machine's load at 4-7; a quiet 2-core machine should need about half that wall time.
#
# Usage: build_llama_rpc.sh            build if missing, print the bin folder
#        build_llama_rpc.sh --print-dir print the bin folder, build nothing (exit 1 if missing)
# Environment: PYTHON (default .venv/bin/python), LLAMA_CPP_PYTHON_VERSION (default: the one
# PYTHON imports), LLAMA_CPP_SRC (a llama.cpp source tree to use instead of downloading the
# sdist), JOBS (default 2).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
PYTHON="${PYTHON:-$root/.venv/bin/python}"
JOBS="${JOBS:-2}"
version="${LLAMA_CPP_PYTHON_VERSION:-}"
[[ -n "$version" ]] || version="$("$PYTHON" -c 'import llama_cpp; print(llama_cpp.__version__)')"
cache="${GLASSBOX_LLAMA_RPC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/glassbox/llama-rpc}"
final="$cache/llama-cpp-python-$version"
programs=(llama-server ggml-rpc-server)

complete() {
    local p
    for p in "${programs[@]}"; do [[ -x "$final/bin/$p" ]] || return 1; done
}

if [[ "${1:-}" == "--print-dir" ]]; then
    echo "$final/bin"
    complete
    exit
fi
if complete; then
    echo "$final/bin"
    exit 0
fi

mkdir -p "$cache"
work="$(mktemp -d "$cache/.build-$version.XXXXXX")"
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM  # so that the EXIT trap runs on these too
start=$SECONDS

src="${LLAMA_CPP_SRC:-}"
if [[ -z "$src" ]]; then
    echo "downloading the llama-cpp-python $version sdist (its vendor/llama.cpp)..." >&2
    # pip reads the sdist's metadata first (it installs its build tools to do so: up to a minute).
    "$PYTHON" -m pip download --quiet --no-deps --no-binary :all: \
        "llama-cpp-python==$version" -d "$work/sdist" >&2
    tar -xzf "$work/sdist/llama_cpp_python-$version.tar.gz" -C "$work"
    src="$work/llama_cpp_python-$version/vendor/llama.cpp"
fi
if [[ ! -f "$src/tools/rpc/rpc-server.cpp" ]]; then
    echo "no llama.cpp source with tools/rpc/rpc-server.cpp in $src" >&2
    exit 1
fi

# Static programs (no libllama.so beside them); the web UI is neither downloaded nor built
# (the tests use the HTTP API only); no TLS, no curl: the programs only talk to 127.0.0.1.
echo "configuring llama.cpp (GGML_RPC=ON, native)..." >&2
nice cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
    -DGGML_RPC=ON -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF \
    -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF >"$work/configure.log" 2>&1 \
    || { tail -40 "$work/configure.log" >&2; exit 1; }
echo "building ${programs[*]} with -j$JOBS (minutes)..." >&2
nice cmake --build "$work/build" --config Release -j "$JOBS" --target "${programs[@]}" \
    >"$work/build.log" 2>&1 || { tail -40 "$work/build.log" >&2; exit 1; }

mkdir -p "$work/out/bin"
for p in "${programs[@]}"; do cp "$work/build/bin/$p" "$work/out/bin/"; done
printf 'llama-cpp-python %s\nsource %s\nbuilt %s in %d s\n' "$version" \
    "${LLAMA_CPP_SRC:-vendor/llama.cpp of the llama-cpp-python $version sdist}" \
    "$(date -u +%FT%TZ)" $((SECONDS - start)) >"$work/out/BUILD-INFO"
# Atomic: another build that finished first wins; ours is dropped with $work.
mv -T "$work/out" "$final" 2>/dev/null || complete
echo "built in $((SECONDS - start)) s" >&2
echo "$final/bin"
