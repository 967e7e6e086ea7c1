#!/bin/bash
# sparkhub: runs the one-time hub setup (sparkhub's JupyterHub services and
# the notebook activity reporter), then creates the JupyterHub (PAM) users of
# profile tutorial in the jupyterhub container, registers them with the
# hub, and closes EMR's default admin (jovyan, whose password is the
# well-known "jupyter"). An EMR step, added once the cluster is WAITING, so
# EMR is done configuring the container when the setup restarts it.
#
# Usage: jupyterhub-users.sh <secret-id> <region>
#
# The Secrets Manager secret holds a JSON object {"<user>": "<password>", ...}.
# Passwords are read here and handed on through stdin only: they never appear
# in a command line, in the step's arguments or in this script's output.
# Never add `set -x` to this script.
#
# It talks to the hub as the JupyterHub service sparkhub-users (allowed to
# create users, nothing else), whose token sparkhub-hub-setup keeps in a
# root-only file; no admin token is made and nobody's activity is touched.
set -euo pipefail

USERS=('philipp' 'admin')
HUB_CONTAINER=jupyterhub
DEFAULT_ADMIN=jovyan

hub_conf=${SPARKHUB_HUB_CONF_DIR:-/etc/jupyter/conf}
hub_setup=${SPARKHUB_HUB_SETUP:-/usr/local/bin/sparkhub-hub-setup}
wait_seconds=${SPARKHUB_HUB_WAIT_SECONDS:-900}

log() { printf 'sparkhub users: %s\n' "$*" >&2; }

if [ "$#" -ne 2 ]; then
  log "usage: $0 <secret-id> <region>"
  exit 64
fi
secret_id=$1
region=$2
hub_api=${SPARKHUB_HUB_API:-https://$(hostname -f):9443/hub/api}

# The hub setup first: it restarts the hub once (the first time), and it
# returns only when the hub is back and knows sparkhub's services.
# Environment names are passed on for the tests' stand-in node.
sudo --preserve-env=SPARKHUB_HUB_CONF_DIR,SPARKHUB_HUB_API,SPARKHUB_HUB_WAIT_SECONDS "$hub_setup"

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

set_password() {
  local password
  password=$(password_of "$1")
  printf '%s:%s\n' "$1" "$password" | sudo docker exec -i "$HUB_CONTAINER" chpasswd
}

# An HTTP request to the hub as sparkhub-users; prints the status (000 when
# the hub does not answer). The token goes to curl as a config file on stdin.
hub() {
  printf 'header = "Authorization: token %s"\n' "$token" |
    curl --silent --insecure --max-time 30 --config - --output /dev/null \
      --write-out '%{http_code}' --request "$1" "$hub_api$2" || true
}

# EMR's default admin first: lock its password (it stays a hub admin nobody
# can log in as). Locking again changes nothing.
if sudo docker exec "$HUB_CONTAINER" id -u "$DEFAULT_ADMIN" >/dev/null 2>&1; then
  sudo docker exec "$HUB_CONTAINER" passwd -l "$DEFAULT_ADMIN" >/dev/null
  log "EMR's default admin $DEFAULT_ADMIN: password locked"
fi

created=0
existing=0
repaired=0
for user in "${USERS[@]}"; do
  if ! sudo docker exec "$HUB_CONTAINER" id -u "$user" >/dev/null 2>&1; then
    sudo docker exec "$HUB_CONTAINER" useradd -m -s /bin/bash -N "$user"
    set_password "$user"
    log "user $user created"
    created=$((created + 1))
  elif [ "$(sudo docker exec "$HUB_CONTAINER" passwd -S "$user" | awk '{print $2}')" != P ]; then
    # Created by an earlier run whose chpasswd failed (or locked since):
    # without a usable password nobody can log in as this user.
    set_password "$user"
    log "user $user existed without a usable password; password set"
    repaired=$((repaired + 1))
  else
    log "user $user exists with a password, left as it is"
    existing=$((existing + 1))
  fi
done

# The hub may be restarting (an earlier run's setup, or a person): wait
# until it answers sparkhub's service again.
deadline=$((SECONDS + wait_seconds))
while :; do
  token=$(sudo cat "$hub_conf/sparkhub-users.token" 2>/dev/null || true)
  if [ -n "$token" ] && [[ "$(hub GET "/users/${USERS[0]}")" =~ ^(200|404)$ ]]; then
    break
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    log "JupyterHub at $hub_api did not accept the sparkhub-users service within $wait_seconds s (sparkhub-hub-setup registered it above; see the hub's log: sudo docker logs jupyterhub)"
    exit 1
  fi
  sleep 5
done

for user in "${USERS[@]}"; do
  status=$(hub POST "/users/$user")
  case "$status" in
    201) log "user $user registered with the hub" ;;
    409) log "user $user already registered with the hub" ;;
    *)
      log "registering $user with the hub failed (HTTP $status)"
      exit 1
      ;;
  esac
done
log "$created user(s) created, $repaired given their missing password, $existing already present"
