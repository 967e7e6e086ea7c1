#!/bin/bash
# sparkhub notebook activity reporter (profile @@PROFILE@@), run every minute
# on the master node by the systemd timer sparkhub-notebook-activity.timer. It
# publishes how many JupyterHub users were active in the last
# @@ACTIVE_SECONDS@@ seconds as the CloudWatch metric ActiveNotebookUsers
# (dimension JobFlowId) in the profile's own namespace
# Sparkhub/Notebooks/@@PROFILE@@ (the only one this node may publish in, and
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

ACTIVE_SECONDS=@@ACTIVE_SECONDS@@
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

aws cloudwatch put-metric-data --region "$region" --namespace "Sparkhub/Notebooks/@@PROFILE@@" \
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
