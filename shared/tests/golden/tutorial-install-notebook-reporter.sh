#!/bin/bash
# sparkhub bootstrap action for profile tutorial: on the master node,
# installs the activity agent (a systemd service and timer) and
# the one-time JupyterHub setup, and starts neither: bootstrap actions run
# before EMR installs and configures JupyterHub, so the users step runs the
# setup once the cluster is WAITING, and the setup starts the reporter's
# timer. Other nodes have no hub, no ResourceManager, no Livy: no agent.
#
# systemd, not cron: emr-7.x runs on Amazon Linux 2023, which ships no cron
# daemon by default and recommends systemd timers; emr-6.x runs on Amazon
# Linux 2. Both boot with systemd.
set -euo pipefail

info_dir=${SPARKHUB_INFO_DIR:-/mnt/var/lib/info}
if ! grep -q '"isMaster": *true' "$info_dir/instance.json"; then
  echo "sparkhub bootstrap: not the master node, no activity agent" >&2
  exit 0
fi

sudo tee /usr/local/bin/sparkhub-notebook-activity >/dev/null <<'REPORTER'
#!/bin/bash
# sparkhub activity agent (profile tutorial), run every minute on the
# master node by the systemd timer sparkhub-notebook-activity.timer. Each run
# publishes one sample, stamped with the run's minute `m`, as the CloudWatch
# metric Busy (dimension JobFlowId) in the profile's own namespace
# Sparkhub/Activity/tutorial (the only one this node may publish in, and
# the only one the idle sweep reads for this profile's clusters): 1 when
# anything ran since the previous published sample `p`, 0 when nothing did.
# While busy it also keeps EMR's own auto-termination away by touching
# /emr/metricscollector/isbusy (touch only: EMR owns it).
#
# What counts, each from the master node itself:
# - JupyterHub users: the `last_activity` the hub records for each user and
#   each of their servers, later than `p` less 900 seconds
#   (the hub writes a user's at most every 30 seconds and a server's when it
#   polls the proxy, every 5 minutes by default: shorter windows flicker).
#   It asks with the token of the JupyterHub service
#   sparkhub-notebook-activity (set up by sparkhub-hub-setup; the token lives
#   in a root-only file), whose role may only list users and read their
#   activity and servers: a service's requests are nobody's activity.
# - YARN applications (ResourceManager REST API, /ws/v1/cluster/apps): any
#   new, submitted, accepted or running, and any that finished after `p`.
#   A Livy session's application runs as long as the session, busy or not,
#   so it counts through Livy instead (its tag livy-session-<id>-…).
# - Livy sessions (REST API, /sessions): starting, or running a statement,
#   or with a statement completed after `p`.
# EMR steps are the sweep's to see (ListSteps: running, and when the last one
# ended), so a node needs no EMR permission for them.
#
# Because each sample reaches back to the previous one published, a minute
# missed (a failed publish, the agent stopped a while) is covered by the next.
# When a source cannot be asked, the run publishes nothing: the sweep then
# judges by EMR's IsIdle and keeps a cluster it cannot see into, as it did
# before the agent; a wrong 0 could end someone's work.
set -euo pipefail

export ACTIVE_SECONDS=900
export ASK_LIVY=true
info_dir=${SPARKHUB_INFO_DIR:-/mnt/var/lib/info}
isbusy=${SPARKHUB_ISBUSY_FILE:-/emr/metricscollector/isbusy}
hub_conf=${SPARKHUB_HUB_CONF_DIR:-/etc/jupyter/conf}
export HUB_API=${SPARKHUB_HUB_API:-https://localhost:9443/hub/api}
export YARN_API=${SPARKHUB_YARN_API:-http://localhost:8088/ws/v1}
export LIVY_API=${SPARKHUB_LIVY_API:-http://localhost:8998}
lock=${SPARKHUB_LOCK_FILE:-/run/lock/sparkhub-notebook-activity.lock}
state=${SPARKHUB_AGENT_STATE:-/var/lib/sparkhub-activity/last-published}

log() { printf '%s sparkhub activity: %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }

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

export TOKEN_FILE="$hub_conf/sparkhub-notebook-activity.token"
if [ ! -s "$TOKEN_FILE" ]; then
  log "no service token in $TOKEN_FILE yet (sparkhub-hub-setup has not run): nothing published"
  exit 1
fi

now=$(date -u +%s)
minute=$((now / 60 * 60))
previous=$((minute - 60))
if [ -e "$state" ]; then
  previous=$(cat "$state")
fi
# A state that is not a minute (a damaged or empty file) reaches back a
# day: the sweep takes each sample to speak for all since the previous one
# it saw.
case $previous in
  '' | *[!0-9]*) previous=$((minute - 86400)) ;;
esac
export SINCE=$previous

# Prints "<busy 0|1> <what ran>"; fails (nothing published) when a source
# cannot be asked. The hub token is read from its file, never an argument.
verdict=$(python3 - <<'PY'
import json, os, ssl, sys, urllib.request

since = int(os.environ["SINCE"])
window = int(os.environ["ACTIVE_SECONDS"])
insecure = ssl.create_default_context()
insecure.check_hostname = False
insecure.verify_mode = ssl.CERT_NONE

def get(url, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=30, context=insecure) as answer:
        return json.load(answer)

def stamp(value):
    # JupyterHub's ISO 8601 instants; epoch seconds.
    import datetime
    when = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.timestamp()

seen = []

# JupyterHub, page by page (JupyterHub >= 2 pages its user list; 1.x answers
# with one list and ignores offset and limit).
token = open(os.environ["TOKEN_FILE"]).read().strip()
headers = {
    "Authorization": "token " + token,
    "Accept": "application/jupyterhub-pagination+json",
}
users, offset = 0, 0
while offset is not None:
    page = get(f"{os.environ['HUB_API']}/users?offset={offset}&limit=200", headers)
    if isinstance(page, dict):
        listed = page["items"]
        following = (page.get("_pagination") or {}).get("next")
        offset = following["offset"] if following else None
    else:
        listed, offset = page, None
    for user in listed:
        stamps = [user.get("last_activity")]
        stamps += [s.get("last_activity") for s in (user.get("servers") or {}).values()]
        if any(s and stamp(s) > since - window for s in stamps):
            users += 1
if users:
    seen.append(f"{users} notebook user(s)")

def livy_session_app(app):
    tags = app.get("applicationTags") or ""
    return any(t.startswith("livy-session-") for t in tags.split(","))

# YARN runs on every EMR cluster's master (Hive, Flink, Tez, Pig… bring
# Hadoop with them): always asked.
base = os.environ["YARN_API"] + "/cluster/apps"
running = get(base + "?states=NEW,NEW_SAVING,SUBMITTED,ACCEPTED,RUNNING")
finished = get(f"{base}?finishedTimeBegin={since * 1000}")
apps = {}
for answer in (running, finished):
    for app in ((answer.get("apps") or {}).get("app") or []):
        if not livy_session_app(app):
            apps[app["id"]] = app
if apps:
    seen.append(f"{len(apps)} YARN application(s)")

if os.environ["ASK_LIVY"] == "true":
    sessions = get(os.environ["LIVY_API"] + "/sessions?size=1000").get("sessions") or []
    working = 0
    for session in sessions:
        if session.get("state") in ("not_started", "starting", "busy", "recovering", "running"):
            working += 1
            continue
        if session.get("state") != "idle":
            continue
        statements = get(f"{os.environ['LIVY_API']}/sessions/{session['id']}/statements")
        for statement in statements.get("statements") or []:
            if statement.get("state") in ("waiting", "running", "cancelling") or (
                statement.get("completed") or 0
            ) > since * 1000:
                working += 1
                break
    if working:
        seen.append(f"{working} Livy session(s) at work")

print(1 if seen else 0, "; ".join(seen) or "nothing ran")
PY
) || {
  log "a source could not be asked (see above): nothing published"
  exit 1
}
busy=${verdict%% *}
what=${verdict#* }

aws cloudwatch put-metric-data --region "$region" --namespace "Sparkhub/Activity/tutorial" \
  --metric-name Busy --dimensions "JobFlowId=$cluster_id" \
  --value "$busy" --unit Count --timestamp "$(date -u -d "@$minute" +%FT%TZ)"
mkdir -p "$(dirname "$state")"
printf '%s\n' "$minute" >"$state.new"
mv -f "$state.new" "$state"

# EMR owns isbusy and reads its time: touching it says "busy now"; an old
# time says nothing. It is never removed (EMR's management guide,
# emr-auto-termination-policy.html: "periodically touch or update isbusy to
# tell Amazon EMR that the cluster is not idle").
if [ "$busy" = 1 ]; then
  mkdir -p "$(dirname "$isbusy")"
  touch "$isbusy"
fi
log "cluster $cluster_id, since $(date -u -d "@$previous" +%FT%TZ): $what (Busy=$busy)"
REPORTER
sudo tee /usr/local/bin/sparkhub-hub-setup >/dev/null <<'SETUP'
#!/bin/bash
# sparkhub (profile tutorial): registers sparkhub's two JupyterHub services
# and starts the activity agent's timer. Run by the users step
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
    log "$1 within $wait_seconds s; the activity agent is not set up"
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

# 5. The activity agent, every minute from now on.
systemctl enable --now sparkhub-notebook-activity.timer
log "JupyterHub knows sparkhub's services; the activity agent runs every minute"
SETUP
sudo chmod 0755 /usr/local/bin/sparkhub-notebook-activity /usr/local/bin/sparkhub-hub-setup

sudo tee /etc/systemd/system/sparkhub-notebook-activity.service >/dev/null <<'UNIT'
[Unit]
Description=sparkhub: the activity agent (notebooks, YARN, Livy), one Busy sample a minute (Sparkhub/Activity/<profile>)
After=network-online.target docker.service

[Service]
Type=oneshot
ExecStart=/usr/local/bin/sparkhub-notebook-activity
TimeoutStartSec=5min
UNIT
sudo tee /etc/systemd/system/sparkhub-notebook-activity.timer >/dev/null <<'UNIT'
[Unit]
Description=sparkhub: the activity agent, every minute

[Timer]
OnCalendar=*-*-* *:*:00
AccuracySec=5s

[Install]
WantedBy=timers.target
UNIT
sudo systemctl daemon-reload
echo "sparkhub bootstrap: activity agent installed; the users step starts it once the cluster is ready" >&2
