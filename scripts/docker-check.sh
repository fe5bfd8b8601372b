#!/usr/bin/env bash
# Builds the image from the Dockerfile and checks it as a Kubernetes node would run it: read-only root
# filesystem with /tmp writable, the unprivileged user, /health and /ready, an inference, a mounted model
# folder, and SIGTERM ending in exit 0. Needs a Docker engine (started here with the vfs driver if none runs).
# Where Docker Hub is out of reach, the base image is stood in for by Debian bookworm (debootstrap) with this
# machine's Node.js, tagged as the official one: the Dockerfile itself is built unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=node:20-bookworm-slim
IMAGE=deberta-ts:check
PORT=${PORT:-18080}

say() { printf 'docker-check: %s\n' "$*"; }
fail() { say "FAIL: $*"; exit 1; }

if ! docker info >/dev/null 2>&1; then
  command -v dockerd >/dev/null || fail "no Docker engine (Debian: apt-get install docker.io)"
  say "starting dockerd (vfs storage driver)"
  (dockerd --storage-driver=vfs >/tmp/docker-check-dockerd.log 2>&1 &)
  for _ in $(seq 1 30); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || fail "dockerd did not start (log: /tmp/docker-check-dockerd.log)"
fi

if ! docker image inspect "$BASE" >/dev/null 2>&1 && ! docker pull "$BASE" >/dev/null 2>&1; then
  command -v debootstrap >/dev/null || fail "$BASE cannot be pulled and debootstrap is missing"
  say "$BASE cannot be pulled: standing in Debian bookworm + $(node --version) for it"
  root=$(mktemp -d)
  debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/dev/null
  cp "$(command -v node)" "$root/usr/local/bin/node"
  mkdir -p "$root/usr/local/lib/node_modules" "$root/etc/ssl/certs"
  cp -a "$(dirname "$(readlink -f "$(command -v npm)")")/.." "$root/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  # This machine reaches the registry through a proxy with its own CA; the official image needs none.
  extra_ca=()
  if [ -n "${NODE_EXTRA_CA_CERTS:-}" ]; then
    cp "$NODE_EXTRA_CA_CERTS" "$root/etc/ssl/certs/extra-ca.crt"
    extra_ca=(-c 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/extra-ca.crt')
  fi
  chroot "$root" /bin/sh -c 'groupadd -g 1000 node && useradd -u 1000 -g node -m node'
  rm -rf "$root"/var/cache/apt/archives/*.deb
  tar -C "$root" -c . | docker import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "${extra_ca[@]}" -c 'CMD ["node"]' - "$BASE" >/dev/null
  rm -rf "$root"
fi

# Build from the committed tree, as CI would.
ctx=$(mktemp -d)
git archive HEAD | tar -x -C "$ctx"
start=$(date +%s)
docker build -q -t "$IMAGE" "$ctx" >/dev/null || fail "docker build"
rm -rf "$ctx"
say "built $IMAGE in $(( $(date +%s) - start )) s, $(docker image inspect "$IMAGE" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}')"

wait_ready() {
  for _ in $(seq 1 90); do curl -sf "127.0.0.1:$1/ready" >/dev/null && return 0; sleep 1; done
  fail "/ready on port $1 never answered 200"
}
stop_expect_zero() {
  docker stop -t 30 "$1" >/dev/null
  code=$(docker inspect "$1" --format '{{.State.ExitCode}}')
  docker rm "$1" >/dev/null
  [ "$code" = 0 ] || fail "$1 exited $code after SIGTERM"
}
cleanup() { docker rm -f dts-check-a dts-check-b >/dev/null 2>&1 || true; }
trap cleanup EXIT
cleanup

# The default command: the embedded spam model, as in the Deployment (read-only root, /tmp writable).
docker run -d --name dts-check-a --read-only --tmpfs /tmp --cap-drop ALL -p "$PORT:8080" "$IMAGE" >/dev/null
wait_ready "$PORT"
[ "$(docker exec dts-check-a id -u)" = 1000 ] || fail "the server does not run as uid 1000"
curl -sf "127.0.0.1:$PORT/health" | grep -q '"status":"ok"' || fail "/health"
answer=$(curl -sf -X POST "127.0.0.1:$PORT/v1/text-classification" -H 'content-type: application/json' \
  -d '{"inputs":"WIN a FREE prize now, click here"}')
echo "$answer" | grep -q '"label":"spam"' || fail "classification answered $answer"
stop_expect_zero dts-check-a
say "default command: ready, uid 1000, read-only root, spam classified, SIGTERM -> exit 0"

# A model folder mounted read-only, named on the command line.
docker run -d --name dts-check-b --read-only --tmpfs /tmp -p "$((PORT + 1)):8080" \
  -v "$PWD/models/deberta-v3-brown-small-spam:/models/cls:ro" "$IMAGE" \
  serve --host 0.0.0.0 --port 8080 --model cls=/models/cls --workers 2 --threads 1 --no-static >/dev/null
wait_ready "$((PORT + 1))"
curl -sf "127.0.0.1:$((PORT + 1))/ready" | grep -q '"name":"cls"' || fail "mounted model not listed by /ready"
stop_expect_zero dts-check-b
say "mounted model folder: ready, SIGTERM -> exit 0"
say "PASS"
