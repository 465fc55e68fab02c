# shellcheck shell=bash
# What scripts/install-test-deps and scripts/install-kube-test-server share,
# sourced by both (not run): messages, root, quiet commands, the system's apt,
# and a private apt for other Debian suites.
#
# The sourcing script sets `me` (its name, for messages) first.

log() { echo "${me:-test-deps}: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Run a command as root: directly, through sudo, or fail clearly.
as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root to run '$*' (not root, and sudo is not available); run this script as root"
  fi
}

# quietly LOG COMMAND...: run COMMAND with its output (stdout and stderr) in
# the file LOG, so that apt's and pip's download lines do not flood the test
# output; on failure print the last 40 lines of LOG and return its status.
quietly() {
  local log_file=$1; shift
  mkdir -p "$(dirname "$log_file")"
  if "$@" >"$log_file" 2>&1; then
    return 0
  else
    local status=$?
    log "'$*' failed ($status); the last lines of $log_file:"
    tail -n 40 "$log_file" >&2
    return "$status"
  fi
}

# install_system_packages LOG_DIR PACKAGE...: install with the system's apt the
# packages that are not installed yet (apt's output goes to LOG_DIR/apt-*.log).
install_system_packages() {
  local log_dir=$1; shift
  local p missing=()
  for p in "$@"; do
    if [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) != "install ok installed" ]]; then
      missing+=("$p")
    fi
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    log "system packages already installed: $*"
    return
  fi
  log "installing system packages with apt (as root; output in $log_dir/apt-*.log): ${missing[*]}"
  quietly "$log_dir/apt-update.log" as_root apt-get -q update \
    || die "apt-get update failed (see above)"
  quietly "$log_dir/apt-install.log" as_root env DEBIAN_FRONTEND=noninteractive apt-get -q install -y "${missing[@]}" \
    || die "apt-get install ${missing[*]} failed (see above)"
}

# The Debian mirror this machine already uses (first non-security URI).
debian_mirror() {
  local uri=""
  if [[ -r /etc/apt/sources.list.d/debian.sources ]]; then
    uri=$(awk 'tolower($1) == "uris:" {
                 for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit }
               }' /etc/apt/sources.list.d/debian.sources)
  fi
  if [[ -z $uri && -r /etc/apt/sources.list ]]; then
    uri=$(awk '$1 == "deb" {
                 i = 2
                 if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                 if (i <= NF && $i !~ /security/) { print $i; exit }
               }' /etc/apt/sources.list)
  fi
  if [[ -z $uri ]]; then
    uri=http://deb.debian.org/debian
    log "WARNING: no Debian mirror found in /etc/apt/sources.list{,.d/debian.sources}; using $uri"
  fi
  echo "${uri%/}"
}

# private_apt APT_DIR TOOL ARGS...: apt-get or apt-cache (TOOL) with a private
# config in APT_DIR: own sources.list, lists and cache; the system's sources,
# preferences, pins and installed packages are ignored. The machine's
# apt.conf.d still applies (proxies, Check-Valid-Until, ...). Output goes to
# stdout: callers decide.
private_apt() {
  local apt_dir=$1 tool=$2; shift 2
  local opts=(
    -o "Dir::Etc::SourceList=$apt_dir/sources.list"
    -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::Etc::Preferences=/dev/null"
    -o "Dir::Etc::PreferencesParts=/dev/null"
    -o "Dir::State::Lists=$apt_dir/lists"
    -o "Dir::Cache=$apt_dir/cache"
    -o "Dir::State::status=/dev/null"   # ignore what is installed here
    -o "APT::Default-Release="
    -o "Acquire::Languages=none"
    -o "Acquire::Retries=3"
    # Skip index files we do not need (AppStream metadata, Contents).
    -o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false"
    -o "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false"
    -o "Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false"
  )
  # As root, apt would drop to the _apt user for downloads, which may not be
  # able to reach <out>; these are our own private dirs, so do not bother.
  if [[ $(id -u) -eq 0 ]]; then opts+=(-o "APT::Sandbox::User=root"); fi
  "$tool" "${opts[@]}" "$@"
}

# private_sources APT_DIR SUITE: a private apt config for Debian SUITE of this
# machine's mirror in APT_DIR, its lists fetched (output in APT_DIR/update.log).
private_sources() {
  local apt_dir=$1 suite=$2 mirror
  mirror=$(debian_mirror)
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" >"$apt_dir/sources.list"
  quietly "$apt_dir/update.log" private_apt "$apt_dir" apt-get -q --error-on=any update \
    || die "apt-get update for Debian $suite ($mirror) failed (see above)"
}
