#!/bin/sh
# Entrypoint of the vault-sync-operator image. Sizes V8's old-generation heap
# to half of the container's memory limit (read from the cgroup), then execs
# node on the controller bundle with the given arguments:
#
#   node --max-semi-space-size=4 --optimize-for-size --max-old-space-size=<MiB> /app/controller.mjs "$@"
#
# 256Mi limit -> 128 MiB heap. Without a limit V8's own default applies. The
# other half covers code, young generation, buffers and sockets.
#
# It also sets MALLOC_ARENA_MAX=2 (unless already set): glibc gives each
# thread that allocates (V8's GC and compiler workers, libuv's pool) its own
# malloc arena, and what they free stays resident there. Measured with
# bench/budget.ts's 10,000 Deployments + 10,000 Secrets (bench/out scratch
# runs of the same setup): RSS 142-147 MiB without, 133 MiB with 2 arenas.
#
# Settings (environment):
#   VSO_MAX_OLD_SPACE_SIZE  heap in MiB, instead of the computed value
#   MALLOC_ARENA_MAX        glibc's malloc arenas (default here 2)
#   NODE_OPTIONS            when it sets --max-old-space-size, that wins
#   VSO_CGROUP_ROOT         where the cgroup files are (default /sys/fs/cgroup)
#   VSO_NODE, VSO_CONTROLLER  the node binary and the bundle
set -eu

cgroup_root=${VSO_CGROUP_ROOT:-/sys/fs/cgroup}
node_bin=${VSO_NODE:-node}
controller=${VSO_CONTROLLER:-/app/controller.mjs}

# Sets $value to the first line of a file. A shell builtin, not cat: the image
# has a shell and node, and no coreutils.
read_first_line() {
  value=
  { IFS= read -r value || :; } < "$1"
}

# Prints the memory limit in bytes, or nothing when there is none.
memory_limit_bytes() {
  if [ -r "$cgroup_root/memory.max" ]; then
    read_first_line "$cgroup_root/memory.max"                   # cgroup v2: bytes or "max"
  elif [ -r "$cgroup_root/memory/memory.limit_in_bytes" ]; then
    read_first_line "$cgroup_root/memory/memory.limit_in_bytes" # cgroup v1
  else
    return 0
  fi
  case $value in
    '' | *[!0-9]*) return 0 ;;                                  # "max" or unreadable: no limit
  esac
  # cgroup v1 says "no limit" with a huge number (about 2^63); anything of 16
  # digits or more (over 1 PB) is treated the same, and keeps the arithmetic
  # below far from overflowing.
  [ ${#value} -lt 16 ] || return 0
  echo "$value"
}

heap_mib() {
  if [ -n "${VSO_MAX_OLD_SPACE_SIZE:-}" ]; then
    case $VSO_MAX_OLD_SPACE_SIZE in
      *[!0-9]*) echo "entrypoint: VSO_MAX_OLD_SPACE_SIZE must be a number of MiB, got '$VSO_MAX_OLD_SPACE_SIZE'" >&2; exit 2 ;;
    esac
    echo "$VSO_MAX_OLD_SPACE_SIZE"
    return 0
  fi
  limit=$(memory_limit_bytes)
  [ -n "$limit" ] || return 0
  mib=$((limit / 1048576 / 2))
  [ "$mib" -ge 32 ] || mib=32
  echo "$mib"
}

MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2}
export MALLOC_ARENA_MAX

case " ${NODE_OPTIONS:-} " in
  *" --max-old-space-size="* | *" --max-old-space-size "*) heap= ;;
  *) heap=$(heap_mib) ;;
esac

if [ -n "$heap" ]; then
  exec "$node_bin" --max-semi-space-size=4 --optimize-for-size "--max-old-space-size=$heap" "$controller" "$@"
fi
exec "$node_bin" --max-semi-space-size=4 --optimize-for-size "$controller" "$@"
