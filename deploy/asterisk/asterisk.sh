#!/usr/bin/env bash
# A local Asterisk 22 for development and CI, configured from this directory.
#
#   asterisk.sh provision   build the Debian sid chroot with Asterisk (once; skipped when complete)
#   asterisk.sh start       provision if needed, install our configuration, start, wait until fully booted
#   asterisk.sh stop        stop it (and wait until it is gone)
#   asterisk.sh kill        kill it with SIGKILL, no clean shutdown (tests: a PBX crash; `start` brings it back)
#   asterisk.sh status      exit 0 only when AMI on 127.0.0.1:5038 accepts our login
#   asterisk.sh env         print the connection settings file (what the tests and the dialer read)
#
# A system Asterisk (an `asterisk` binary on PATH) is used where installed: it runs as a private
# instance with its own directories under var/asterisk/instance, never touching /etc/asterisk.
# Otherwise (as root) Asterisk comes from Debian sid, bootstrapped with mmdebstrap into a chroot
# outside the work tree so that every checkout and CI run on the machine reuses it.
#
# Environment: WAIHU_ASTERISK_ROOT (chroot, default /var/cache/waihu/asterisk-sid),
# WAIHU_ASTERISK_ENV (settings file, default <repo>/var/asterisk/asterisk.env),
# WAIHU_AMI_SECRET / WAIHU_AGENT_PASSWORD (else generated once and kept in the settings file),
# WAIHU_ASTERISK_MODE=chroot|system (default: system if installed, else chroot).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
ROOT="${WAIHU_ASTERISK_ROOT:-/var/cache/waihu/asterisk-sid}"
ENV_FILE="${WAIHU_ASTERISK_ENV:-$REPO/var/asterisk/asterisk.env}"
INSTANCE="${WAIHU_ASTERISK_INSTANCE:-$REPO/var/asterisk/instance}"
MIRROR="${WAIHU_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
AMI_HOST=127.0.0.1
AMI_PORT=5038
SIP_PORT=5060
AMI_USER=waihu
CONFIGS=(asterisk.conf logger.conf modules.conf manager.conf pjsip.conf extensions.conf rtp.conf)

log() { printf 'asterisk.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

if [ -n "${WAIHU_ASTERISK_MODE:-}" ]; then
  MODE="$WAIHU_ASTERISK_MODE"
elif command -v asterisk >/dev/null 2>&1; then
  MODE=system
else
  MODE=chroot
fi

# Paths as the host sees them, and how to run the asterisk binary.
if [ "$MODE" = chroot ]; then
  ETC="$ROOT/etc/asterisk"
  RUN="$ROOT/run/asterisk"
  LOGDIR="$ROOT/var/log/asterisk"
  SPOOL_INSIDE=/var/spool/asterisk/monitor
  RECORDINGS="$ROOT$SPOOL_INSIDE"
  ast() { chroot "$ROOT" /usr/sbin/asterisk "$@"; }
else
  ETC="$INSTANCE/etc"
  RUN="$INSTANCE/run"
  LOGDIR="$INSTANCE/log"
  SPOOL_INSIDE="$INSTANCE/spool/monitor"
  RECORDINGS="$SPOOL_INSIDE"
  ast() { asterisk -C "$ETC/asterisk.conf" "$@"; }
fi

random_secret() { od -An -N18 -tx1 /dev/urandom | tr -d ' \n'; }

# The settings file keeps generated secrets across runs; the environment overrides them.
write_env() {
  local ami_secret="${WAIHU_AMI_SECRET:-}" agent_password="${WAIHU_AGENT_PASSWORD:-}"
  if [ -f "$ENV_FILE" ]; then
    [ -n "$ami_secret" ] || ami_secret="$(sed -n 's/^WAIHU_AMI_SECRET=//p' "$ENV_FILE")"
    [ -n "$agent_password" ] || agent_password="$(sed -n 's/^WAIHU_AGENT_PASSWORD=//p' "$ENV_FILE")"
  fi
  [ -n "$ami_secret" ] || ami_secret="$(random_secret)"
  [ -n "$agent_password" ] || agent_password="$(random_secret)"
  mkdir -p "$(dirname "$ENV_FILE")"
  local tmp="$ENV_FILE.tmp"
  (umask 077 && cat >"$tmp" <<EOF
WAIHU_ASTERISK_MODE=$MODE
WAIHU_AMI_HOST=$AMI_HOST
WAIHU_AMI_PORT=$AMI_PORT
WAIHU_AMI_USER=$AMI_USER
WAIHU_AMI_SECRET=$ami_secret
WAIHU_SIP_HOST=127.0.0.1
WAIHU_SIP_PORT=$SIP_PORT
WAIHU_AGENT_PASSWORD=$agent_password
WAIHU_ASTERISK_TRUNK=loopback
WAIHU_ASTERISK_RECORDINGS_DIR=$RECORDINGS
WAIHU_ASTERISK_MONITOR_DIR=$SPOOL_INSIDE
EOF
  )
  mv "$tmp" "$ENV_FILE"
}

env_value() { sed -n "s/^$1=//p" "$ENV_FILE"; }

provision_chroot() {
  if [ -f "$ROOT/.waihu-complete" ]; then
    return 0
  fi
  [ "$(id -u)" -eq 0 ] || die "building the Asterisk chroot needs root (or install Asterisk 22 and rerun)"
  if ! command -v mmdebstrap >/dev/null 2>&1; then
    log "installing mmdebstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null
  fi
  mkdir -p "$(dirname "$ROOT")"
  rm -rf "$ROOT.tmp"
  log "bootstrapping Debian sid with Asterisk into $ROOT (about 30 s, 350 MB)"
  local started=$SECONDS
  mmdebstrap --variant=apt --quiet \
    --aptopt='Acquire::Check-Valid-Until "false"' \
    --include=asterisk,asterisk-modules,asterisk-config \
    sid "$ROOT.tmp" "$MIRROR"
  [ -x "$ROOT.tmp/usr/sbin/asterisk" ] || die "the chroot has no /usr/sbin/asterisk"
  touch "$ROOT.tmp/.waihu-complete"
  rm -rf "$ROOT"
  mv "$ROOT.tmp" "$ROOT"
  log "chroot ready in $((SECONDS - started)) s: $(chroot "$ROOT" /usr/sbin/asterisk -V)"
}

provision() {
  if [ "$MODE" = chroot ]; then
    mkdir -p "$(dirname "$ROOT")"
    # Two test runs provisioning at once would fight over $ROOT.tmp.
    exec 9>"$(dirname "$ROOT")/.asterisk-provision.lock"
    flock 9
    provision_chroot
    flock -u 9
  else
    command -v asterisk >/dev/null 2>&1 || die "no asterisk binary on PATH (WAIHU_ASTERISK_MODE=system)"
  fi
  write_env
}

# Install our configuration (and the secrets) where the Asterisk we run reads it.
install_config() {
  local owner group
  mkdir -p "$ETC/waihu-secrets" "$RUN" "$LOGDIR" "$RECORDINGS"
  for f in "${CONFIGS[@]}"; do
    install -m 0644 "$HERE/$f" "$ETC/$f"
  done
  sed -i "s|^WAIHU_RECORDINGS = .*|WAIHU_RECORDINGS = $SPOOL_INSIDE|" "$ETC/extensions.conf"
  (umask 077
    printf 'secret = %s\n' "$(env_value WAIHU_AMI_SECRET)" >"$ETC/waihu-secrets/ami-secret.conf"
    printf 'password = %s\n' "$(env_value WAIHU_AGENT_PASSWORD)" >"$ETC/waihu-secrets/agent-password.conf")
  if [ "$MODE" = chroot ]; then
    # The chroot's asterisk user has a uid that means someone else on the host: use numbers.
    owner="$(chroot "$ROOT" id -u asterisk)"
    group="$(chroot "$ROOT" id -g asterisk)"
  elif [ "$(id -u)" -eq 0 ] && id asterisk >/dev/null 2>&1; then
    owner="$(id -u asterisk)"
    group="$(id -g asterisk)"
  else
    owner="$(id -u)"
    group="$(id -g)"
  fi
  chown -R "$owner:$group" "$ETC/waihu-secrets" "$RUN" "$LOGDIR"
  chmod 0750 "$ETC/waihu-secrets"
  # Recordings: Asterisk writes them; the group of the work tree's owner (the service user) reads
  # them through the host path $RECORDINGS (setgid keeps that group on new files) and removes each
  # once it has copied it into its own store (owned by the service user, mode 0600): hence g+w.
  chown "$owner:$(stat -c %g "$REPO")" "$RECORDINGS"
  chmod 2770 "$RECORDINGS"
  chmod o+x "$(dirname "$RECORDINGS")" # the spool directory above it is asterisk's own (0750): let others pass
  if [ "$MODE" = system ]; then
    mkdir -p "$INSTANCE/lib" "$INSTANCE/spool" "$INSTANCE/cache"
    chown "$owner:$group" "$INSTANCE/lib" "$INSTANCE/spool" "$INSTANCE/cache"
    cat >>"$ETC/asterisk.conf" <<EOF

[directories]
astetcdir => $ETC
astrundir => $RUN
astlogdir => $LOGDIR
astspooldir => $INSTANCE/spool
astvarlibdir => /var/lib/asterisk
astdbdir => $INSTANCE/lib
astcachedir => $INSTANCE/cache
EOF
    # Only root may switch users; a developer's own instance runs as the developer.
    if [ "$(id -u)" -ne 0 ]; then
      sed -i '/^runuser\|^rungroup/d' "$ETC/asterisk.conf"
    fi
  fi
}

# Exit 0 when AMI accepts our login (bash's /dev/tcp: no extra tools).
ami_login() {
  [ -f "$ENV_FILE" ] || return 1
  local secret reply
  secret="$(env_value WAIHU_AMI_SECRET)"
  reply="$(timeout 5 bash -c '
    exec 3<>/dev/tcp/'"$AMI_HOST"'/'"$AMI_PORT"' || exit 1
    printf "Action: Login\r\nUsername: %s\r\nSecret: %s\r\nEvents: off\r\n\r\nAction: Logoff\r\n\r\n" "$1" "$2" >&3
    timeout 3 cat <&3' _ "$AMI_USER" "$secret" 2>/dev/null || true)"
  grep -q "Response: Success" <<<"$reply"
}

running() { ast -rx "core show version" >/dev/null 2>&1; }

start() {
  provision
  install_config
  if running; then
    log "already running: reloading our configuration"
    ast -rx "module reload" >/dev/null
  else
    log "starting Asterisk ($MODE)"
    rm -f "$RUN/asterisk.ctl"
    ast
  fi
  local deadline=$((SECONDS + 60))
  until running; do
    [ $SECONDS -lt $deadline ] || die "Asterisk did not open its control socket; see $LOGDIR/messages.log"
    sleep 0.2
  done
  ast -rx "core waitfullybooted" >/dev/null
  check_dialplan
  until ami_login; do
    [ $SECONDS -lt $deadline ] || die "AMI does not accept our login on $AMI_HOST:$AMI_PORT; see $LOGDIR/messages.log"
    sleep 0.2
  done
  log "ready: AMI $AMI_HOST:$AMI_PORT, SIP 127.0.0.1:$SIP_PORT, settings in $ENV_FILE"
}

# A parse error makes Asterisk keep (or start without) part of the dialplan, silently: check every context.
check_dialplan() {
  local context shown
  for context in $(sed -n 's/^\[\([a-z-]*\)\].*/\1/p' "$HERE/extensions.conf"); do
    case "$context" in general | globals) continue ;; esac
    shown="$(ast -rx "dialplan show $context" 2>/dev/null || true)"
    [[ "$shown" == *"Context '$context' created"* ]] || die "context [$context] did not load; see $LOGDIR/messages.log"
  done
}

stop() {
  if running; then
    ast -rx "core stop now" >/dev/null 2>&1 || true
  fi
  local pid="" deadline=$((SECONDS + 15))
  [ -f "$RUN/asterisk.pid" ] && pid="$(cat "$RUN/asterisk.pid")"
  while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      log "Asterisk ($pid) ignores 'core stop now': killing it"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  rm -f "$RUN/asterisk.pid" "$RUN/asterisk.ctl"
}

# A crash: no Hangup events, no Shutdown event, calls just vanish (the dialer must reconcile).
crash() {
  local pid=""
  [ -f "$RUN/asterisk.pid" ] && pid="$(cat "$RUN/asterisk.pid")"
  [ -n "$pid" ] || die "no $RUN/asterisk.pid: is Asterisk running?"
  kill -KILL "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  rm -f "$RUN/asterisk.pid" "$RUN/asterisk.ctl"
}

case "${1:-}" in
  provision) provision ;;
  start) start ;;
  stop) stop ;;
  kill) crash ;;
  status) ami_login ;;
  env) cat "$ENV_FILE" ;;
  -h|--help|help) echo "usage: $0 provision|start|stop|kill|status|env" ;;
  *) echo "usage: $0 provision|start|stop|kill|status|env" >&2; exit 2 ;;
esac
