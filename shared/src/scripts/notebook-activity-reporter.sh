#!/bin/bash
# sparkhub notebook activity reporter (profile @@PROFILE@@), run every minute
# by cron on the master node. It publishes how many JupyterHub users were
# active in the last @@ACTIVE_MINUTES@@ minutes as the CloudWatch metric
# Sparkhub/ActiveNotebookUsers (dimension JobFlowId), which sparkhub's idle
# sweep reads, and keeps EMR's own auto-termination away while anyone is
# active by holding /emr/metricscollector/isbusy.
#
# When the hub cannot be asked, it publishes nothing: a gap in the metric
# keeps the cluster, a wrong zero could end someone's work.
set -euo pipefail

ACTIVE_MINUTES=@@ACTIVE_MINUTES@@
info_dir=${SPARKHUB_INFO_DIR:-/mnt/var/lib/info}
isbusy=${SPARKHUB_ISBUSY_FILE:-/emr/metricscollector/isbusy}

log() { printf '%s sparkhub notebook activity: %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }

json_field() {
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

cluster_id=$(json_field "$info_dir/job-flow.json" jobFlowId)
region=$(json_field "$info_dir/extraInstanceData.json" region)

token=$(sudo docker exec jupyterhub /opt/conda/bin/jupyterhub token jovyan | tail -1)
# The token goes to curl as a config file on stdin, not as an argument.
users=$(printf 'header = "Authorization: token %s"\n' "$token" |
  curl --silent --show-error --fail --insecure --config - "https://localhost:9443/hub/api/users")

active=$(printf '%s' "$users" | python3 -c '
import datetime, json, sys
window = datetime.timedelta(minutes=int(sys.argv[1]))
now = datetime.datetime.now(datetime.timezone.utc)
def recent(stamp):
    if not stamp:
        return False
    when = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return now - when <= window
active = 0
for user in json.load(sys.stdin):
    servers = (user.get("servers") or {}).values()
    if recent(user.get("last_activity")) or any(recent(s.get("last_activity")) for s in servers):
        active += 1
print(active)
' "$ACTIVE_MINUTES")

aws cloudwatch put-metric-data --region "$region" --namespace Sparkhub \
  --metric-name ActiveNotebookUsers --dimensions "JobFlowId=$cluster_id" \
  --value "$active" --unit Count

if [ "$active" -gt 0 ]; then
  sudo mkdir -p "$(dirname "$isbusy")"
  sudo touch "$isbusy"
else
  sudo rm -f "$isbusy"
fi
log "cluster $cluster_id: $active active notebook user(s)"
