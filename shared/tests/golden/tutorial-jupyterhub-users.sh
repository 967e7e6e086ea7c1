#!/bin/bash
# sparkhub: creates the JupyterHub (PAM) users of profile tutorial in the
# jupyterhub container and registers them with the hub.
#
# Usage: jupyterhub-users.sh <secret-id> <region>
#
# The Secrets Manager secret holds a JSON object {"<user>": "<password>", ...}.
# Passwords are read here and handed on through stdin only: they never appear
# in a command line, in the step's arguments or in this script's output.
# Never add `set -x` to this script.
set -euo pipefail

USERS=('philipp' 'admin')
HUB_CONTAINER=jupyterhub

log() { printf 'sparkhub users: %s\n' "$*" >&2; }

if [ "$#" -ne 2 ]; then
  log "usage: $0 <secret-id> <region>"
  exit 64
fi
secret_id=$1
region=$2

secret_json=$(aws secretsmanager get-secret-value --region "$region" \
  --secret-id "$secret_id" --query SecretString --output text)

password_of() {
  # The secret goes in on stdin; the password comes out on stdout, into a pipe.
  printf '%s' "$secret_json" | python3 -c '
import json, sys
passwords = json.load(sys.stdin)
if sys.argv[1] not in passwords:
    sys.exit("no password for user " + sys.argv[1] + " in the secret")
print(passwords[sys.argv[1]])
' "$1"
}

token=$(sudo docker exec "$HUB_CONTAINER" /opt/conda/bin/jupyterhub token jovyan | tail -1)
hub_api="https://$(hostname -f):9443/hub/api"

created=0
existing=0
for user in "${USERS[@]}"; do
  if sudo docker exec "$HUB_CONTAINER" id -u "$user" >/dev/null 2>&1; then
    log "user $user exists in the container, left as it is"
    existing=$((existing + 1))
  else
    sudo docker exec "$HUB_CONTAINER" useradd -m -s /bin/bash -N "$user"
    password=$(password_of "$user")
    printf '%s:%s\n' "$user" "$password" | sudo docker exec -i "$HUB_CONTAINER" chpasswd
    unset password
    log "user $user created"
    created=$((created + 1))
  fi
  # The token goes to curl as a config file on stdin, not as an argument.
  status=$(printf 'header = "Authorization: token %s"\n' "$token" |
    curl --silent --show-error --insecure --config - --output /dev/null \
      --write-out '%{http_code}' --request POST "$hub_api/users/$user")
  case "$status" in
    201) log "user $user registered with the hub" ;;
    409) log "user $user already registered with the hub" ;;
    *)
      log "registering $user with the hub failed (HTTP $status)"
      exit 1
      ;;
  esac
done
log "$created user(s) created, $existing already present"
