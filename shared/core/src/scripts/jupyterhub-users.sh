#!/bin/bash
# sparkhub: runs the one-time hub setup (sparkhub's JupyterHub services and
# the notebook activity reporter), then creates the JupyterHub (PAM) users of
# profile @@PROFILE@@ in the jupyterhub container, registers them with the
# hub, and closes EMR's default admin (jovyan, whose password is the
# well-known "jupyter"). An EMR step, added once the cluster is WAITING, so
# EMR is done configuring the container when the setup restarts it.
#
# Usage: jupyterhub-users.sh <hashes-secret-id> <region>
#
# The Secrets Manager secret holds a JSON object {"<user>": "<SHA-512 crypt
# hash>", ...}: the node may read no plaintext password (every notebook user
# has the node's credentials). Hashes go to `chpasswd -e` through stdin only:
# they never appear in a command line, in the step's arguments or in this
# script's output. Never add `set -x` to this script.
#
# Every run makes each user's password the secret's, and locks and removes
# from the hub every user an earlier run made whom the profile no longer
# lists. The step's name encodes the users and their hashes, so after a
# rotation or a removal the setup function adds a new step at the cluster's
# next WAITING.
#
# It talks to the hub as the JupyterHub service sparkhub-users (allowed to
# create users, nothing else), whose token sparkhub-hub-setup keeps in a
# root-only file; no admin token is made and nobody's activity is touched.
set -euo pipefail

USERS=(@@USERS@@)
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

# shellcheck disable=SC2016 # the Python's "$6$" is a crypt prefix, not the shell's
hash_of() {
  # The secret goes in on stdin; the hash comes out on stdout, into a pipe.
  printf '%s' "$secret_json" | python3 -c '
import json, sys
hashes = json.load(sys.stdin)
if sys.argv[1] not in hashes:
    sys.exit("no password hash for user " + sys.argv[1] + " in the secret")
if not hashes[sys.argv[1]].startswith("$6$"):
    sys.exit("the password hash of user " + sys.argv[1] + " is not a SHA-512 crypt hash")
print(hashes[sys.argv[1]])
' "$1"
}

set_password() {
  printf '%s:%s\n' "$1" "$2" | sudo docker exec -i "$HUB_CONTAINER" chpasswd -e
}

current_hash() {
  sudo docker exec "$HUB_CONTAINER" getent shadow "$1" | cut -d: -f2
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
  hash=$(hash_of "$user")
  if ! sudo docker exec "$HUB_CONTAINER" id -u "$user" >/dev/null 2>&1; then
    sudo docker exec "$HUB_CONTAINER" useradd -m -s /bin/bash -N "$user"
    set_password "$user" "$hash"
    log "user $user created"
    created=$((created + 1))
  elif [ "$(current_hash "$user")" != "$hash" ]; then
    # A rotated password, a failed chpasswd of an earlier run, or a user
    # locked since: the secret's password is the one that counts.
    set_password "$user" "$hash"
    log "user $user existed with another or no password; password set"
    repaired=$((repaired + 1))
  else
    log "user $user exists with its password, left as it is"
    existing=$((existing + 1))
  fi
done

# Users an earlier run made whom the profile no longer lists: password
# locked (their files stay), and below removed from the hub, which stops
# their server and ends their sessions and tokens. The list lives in a
# root-only directory (not the hub's configuration directory, which every
# notebook user may write).
state_dir=${SPARKHUB_STATE_DIR:-/var/lib/sparkhub}
sudo mkdir -p "$state_dir"
sudo chmod 0700 "$state_dir"
made="$state_dir/users-made"
declare -A listed=()
for user in "${USERS[@]}"; do listed[$user]=1; done
removed=()
while IFS= read -r old; do
  [ -n "$old" ] || continue
  if [ -z "${listed[$old]:-}" ] && sudo docker exec "$HUB_CONTAINER" id -u "$old" >/dev/null 2>&1; then
    sudo docker exec "$HUB_CONTAINER" passwd -l "$old" >/dev/null
    log "user $old is no longer in the profile: password locked"
    removed+=("$old")
  fi
done < <(sudo cat "$made" 2>/dev/null || true)
locked=${#removed[@]}
tmp=$(sudo mktemp "$state_dir/.users-made.XXXXXX")
{ sudo cat "$made" 2>/dev/null || true; printf '%s\n' "${USERS[@]}"; } | sort -u |
  sudo tee "$tmp" >/dev/null
sudo mv -f "$tmp" "$made"

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

# ${a[@]+"${a[@]}"}: an empty array under `set -u` is an error in bash 4.2
# (Amazon Linux 2, emr-6.x); bash 5 (Amazon Linux 2023) would not mind.
for old in ${removed[@]+"${removed[@]}"}; do
  status=$(hub DELETE "/users/$old")
  case "$status" in
    204 | 404) log "user $old removed from the hub (server stopped, sessions and tokens ended)" ;;
    *)
      log "removing $old from the hub failed (HTTP $status)"
      exit 1
      ;;
  esac
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
log "$created user(s) created, $repaired given their password, $existing already present, $locked removed user(s) locked"
