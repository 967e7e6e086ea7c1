#!/bin/bash
# sparkhub bootstrap action for profile tutorial: on the master node,
# installs the notebook activity reporter (a systemd service and timer) and
# the one-time JupyterHub setup, and starts neither: bootstrap actions run
# before EMR installs and configures JupyterHub, so the users step runs the
# setup once the cluster is WAITING, and the setup starts the reporter's
# timer. Other nodes have no hub and need no reporter.
#
# systemd, not cron: emr-7.x runs on Amazon Linux 2023, which ships no cron
# daemon by default and recommends systemd timers; emr-6.x runs on Amazon
# Linux 2. Both boot with systemd.
set -euo pipefail

info_dir=${SPARKHUB_INFO_DIR:-/mnt/var/lib/info}
if ! grep -q '"isMaster": *true' "$info_dir/instance.json"; then
  echo "sparkhub bootstrap: not the master node, no notebook reporter" >&2
  exit 0
fi

sudo tee /usr/local/bin/sparkhub-notebook-activity >/dev/null <<'REPORTER'
#!/bin/bash
# sparkhub notebook activity reporter (profile tutorial), run every minute
# on the master node by the systemd timer sparkhub-notebook-activity.timer. It
# publishes how many JupyterHub users were active in the last
# 900 seconds as the CloudWatch metric ActiveNotebookUsers
# (dimension JobFlowId) in the profile's own namespace
# Sparkhub/Notebooks/tutorial (the only one this node may publish in, and
# the only one the idle sweep reads for this profile's clusters), and keeps EMR's own auto-termination away while anyone is
# active by touching /emr/metricscollector/isbusy (touch only: EMR owns it).
#
# What it measures: the `last_activity` the hub records for each user and for
# each of their servers. It asks with the token of the JupyterHub service
# sparkhub-notebook-activity (set up once by sparkhub-hub-setup; the token
# lives in a root-only file), whose role may only list users and read their
# activity and servers. A service's requests are nobody's activity, so the
# reporter never counts itself; a user's token (also an admin's, such as one
# from `jupyterhub token jovyan`) would make that user active on every run.
#
# last_activity is coarse: the hub writes a user's at most every 30 seconds
# and a server's when it polls the proxy (every 5 minutes by default), so the
# window is 15 minutes; shorter windows flicker between active and idle.
#
# When the hub cannot be asked, it publishes nothing: a gap in the metric
# keeps the cluster, a wrong zero could end someone's work.
set -euo pipefail

ACTIVE_SECONDS=900
info_dir=${SPARKHUB_INFO_DIR:-/mnt/var/lib/info}
isbusy=${SPARKHUB_ISBUSY_FILE:-/emr/metricscollector/isbusy}
hub_conf=${SPARKHUB_HUB_CONF_DIR:-/etc/jupyter/conf}
hub_api=${SPARKHUB_HUB_API:-https://localhost:9443/hub/api}
lock=${SPARKHUB_LOCK_FILE:-/run/lock/sparkhub-notebook-activity.lock}

log() { printf '%s sparkhub notebook activity: %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }

# Runs never overlap: a run that finds the previous one still going leaves it
# to finish (the timer starts the next one a minute later).
exec 9>"$lock"
if ! flock --nonblock 9; then
  log "the previous run is still going; this one leaves"
  exit 0
fi

json_field() {
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

cluster_id=$(json_field "$info_dir/job-flow.json" jobFlowId)
region=$(json_field "$info_dir/extraInstanceData.json" region)

token_file="$hub_conf/sparkhub-notebook-activity.token"
if [ ! -s "$token_file" ]; then
  log "no service token in $token_file yet (sparkhub-hub-setup has not run): nothing published"
  exit 1
fi
token=$(cat "$token_file")

# Every user, page by page (JupyterHub >= 2 pages its user list; 1.x answers
# with one list and ignores offset and limit). The token goes to curl as a
# config file on stdin, never as an argument.
active=0
offset=0
while [ -n "$offset" ]; do
  page=$(printf 'header = "Authorization: token %s"\n' "$token" |
    curl --silent --show-error --fail --insecure --max-time 30 --config - \
      --header 'Accept: application/jupyterhub-pagination+json' \
      "$hub_api/users?offset=$offset&limit=200")
  counted=$(printf '%s' "$page" | python3 -c '
import datetime, json, sys
window = datetime.timedelta(seconds=int(sys.argv[1]))
now = datetime.datetime.now(datetime.timezone.utc)
def recent(stamp):
    if not stamp:
        return False
    when = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return now - when <= window
page = json.load(sys.stdin)
if isinstance(page, dict):
    users = page["items"]
    following = (page.get("_pagination") or {}).get("next")
    next_offset = following["offset"] if following else ""
else:
    users, next_offset = page, ""
active = 0
for user in users:
    servers = (user.get("servers") or {}).values()
    if recent(user.get("last_activity")) or any(recent(s.get("last_activity")) for s in servers):
        active += 1
print(active, next_offset)
' "$ACTIVE_SECONDS")
  active=$((active + ${counted%% *}))
  offset=${counted#* }
done

aws cloudwatch put-metric-data --region "$region" --namespace "Sparkhub/Notebooks/tutorial" \
  --metric-name ActiveNotebookUsers --dimensions "JobFlowId=$cluster_id" \
  --value "$active" --unit Count

# EMR owns isbusy and reads its time: touching it says "busy now"; an old
# time says nothing. It is never removed (EMR's management guide,
# emr-auto-termination-policy.html: "periodically touch or update isbusy to
# tell Amazon EMR that the cluster is not idle").
if [ "$active" -gt 0 ]; then
  mkdir -p "$(dirname "$isbusy")"
  touch "$isbusy"
fi
log "cluster $cluster_id: $active active notebook user(s) in the last $ACTIVE_SECONDS s"
REPORTER
sudo tee /usr/local/bin/sparkhub-hub-setup >/dev/null <<'SETUP'
#!/bin/bash
# sparkhub (profile tutorial): registers sparkhub's two JupyterHub services
# and starts the notebook activity reporter's timer. Run by the users step
# (jupyterhub-users.sh), that is once the cluster is WAITING: EMR has then
# installed, configured and started the `jupyterhub` container, so editing its
# configuration and restarting it cannot collide with EMR doing the same
# (bootstrap actions run before EMR installs applications; a restart during
# EMR's own configuration could leave the hub half configured).
#
# A JupyterHub service token can only come from the hub's configuration
# (c.JupyterHub.services, and on JupyterHub >= 2 a role in
# c.JupyterHub.load_roles); no API creates one. So this appends a block to
# EMR's hub configuration, /etc/jupyter/conf/jupyterhub_config.py (the
# `jupyterhub` container mounts /etc/jupyter at the same path), and restarts
# the container once, as EMR's release guide does it (emr-jupyterhub-configure.html:
# "After you change values, restart the jupyterhub container";
# emr-jupyterhub-ldap-users.html: `docker stop jupyterhub`, `docker start jupyterhub`).
# The block works on JupyterHub 1.x, which EMR 6 and 7 ship, and on >= 2:
#   sparkhub-notebook-activity  list users, read their activity and servers
#                               (1.x has no scopes: an admin service)
#   sparkhub-users              create users, for the users step (admin:users;
#                               1.x: admin). Root on this node can do that
#                               anyway (docker exec), so its token adds no power.
# The tokens are random, each in a root-only file next to the configuration,
# which reads them from there and so holds no secret. A second run changes
# nothing and restarts nothing.
set -euo pipefail

hub_conf=${SPARKHUB_HUB_CONF_DIR:-/etc/jupyter/conf}
hub_api=${SPARKHUB_HUB_API:-https://localhost:9443/hub/api}
wait_seconds=${SPARKHUB_HUB_WAIT_SECONDS:-900}
config="$hub_conf/jupyterhub_config.py"
marker="# sparkhub services (added by sparkhub-hub-setup)"

log() { printf 'sparkhub hub setup: %s\n' "$*" >&2; }

deadline=$((SECONDS + wait_seconds))
waited_too_long() {
  if [ "$SECONDS" -ge "$deadline" ]; then
    log "$1 within $wait_seconds s; the notebook activity reporter is not set up"
    exit 1
  fi
}

# 1. The hub answers. A run interrupted between `docker stop` and `docker
# start` left it stopped: start it (a no-op when it runs).
if grep -qF "$marker" "$config" 2>/dev/null; then
  docker start jupyterhub >/dev/null || true
fi
until [ -f "$config" ] && curl --silent --insecure --max-time 10 --output /dev/null "$hub_api/"; do
  waited_too_long "JupyterHub did not answer at $hub_api"
  sleep 10
done

# 2. One token per service, made once. The directory is world-writable
# (EMR makes it mode 1777): a token file this user does not own is replaced.
for service in sparkhub-notebook-activity sparkhub-users; do
  token_file="$hub_conf/$service.token"
  if [ ! -s "$token_file" ] || [ -L "$token_file" ] || [ "$(stat -c %u "$token_file")" != "$(id -u)" ]; then
    tmp=$(mktemp "$hub_conf/.$service.XXXXXX")
    python3 -c 'import secrets; print(secrets.token_hex(32))' >"$tmp"
    mv -f "$tmp" "$token_file"
  fi
  chmod 0600 "$token_file"
done

# 3. The services in the hub's configuration, once; then one restart.
if ! grep -qF "$marker" "$config"; then
  cat >>"$config" <<'PY'

# sparkhub services (added by sparkhub-hub-setup)
def _sparkhub_services(c):
    import os
    import sys
    import jupyterhub
    conf = os.path.dirname(os.path.abspath(__file__))
    roles = {
        "sparkhub-notebook-activity": ["list:users", "read:users:activity", "read:servers"],
        "sparkhub-users": ["admin:users"],
    }
    for name, scopes in roles.items():
        try:
            with open(os.path.join(conf, name + ".token")) as f:
                token = f.read().strip()
        except OSError as e:
            print("sparkhub: service %s left out: %s" % (name, e), file=sys.stderr)
            continue
        service = {"name": name, "api_token": token}
        if int(jupyterhub.__version__.split(".")[0]) >= 2:
            c.JupyterHub.load_roles.append({"name": name, "scopes": scopes, "services": [name]})
        else:
            service["admin"] = True
        c.JupyterHub.services.append(service)


_sparkhub_services(c)  # noqa: F821
PY
  log "sparkhub's services added to $config; restarting JupyterHub to load them"
  docker stop jupyterhub >/dev/null
  docker start jupyterhub >/dev/null
fi

# 4. Wait until the hub knows the reporter's token. It goes to curl as a
# config file on stdin, never as an argument.
token=$(cat "$hub_conf/sparkhub-notebook-activity.token")
until printf 'header = "Authorization: token %s"\n' "$token" |
  curl --silent --fail --insecure --max-time 10 --config - --output /dev/null "$hub_api/users?limit=1"; do
  waited_too_long "JupyterHub did not accept sparkhub's service token"
  sleep 2
done

# 5. The reporter, every minute from now on.
systemctl enable --now sparkhub-notebook-activity.timer
log "JupyterHub knows sparkhub's services; the notebook activity reporter runs every minute"
SETUP
sudo chmod 0755 /usr/local/bin/sparkhub-notebook-activity /usr/local/bin/sparkhub-hub-setup

sudo tee /etc/systemd/system/sparkhub-notebook-activity.service >/dev/null <<'UNIT'
[Unit]
Description=sparkhub: publish how many JupyterHub users are active (Sparkhub/ActiveNotebookUsers)
After=network-online.target docker.service

[Service]
Type=oneshot
ExecStart=/usr/local/bin/sparkhub-notebook-activity
TimeoutStartSec=5min
UNIT
sudo tee /etc/systemd/system/sparkhub-notebook-activity.timer >/dev/null <<'UNIT'
[Unit]
Description=sparkhub: publish JupyterHub activity every minute

[Timer]
OnCalendar=*-*-* *:*:00
AccuracySec=5s

[Install]
WantedBy=timers.target
UNIT
sudo systemctl daemon-reload
echo "sparkhub bootstrap: notebook activity reporter installed; the users step starts it once the cluster is ready" >&2
