#!/bin/bash
# sparkhub (profile @@PROFILE@@): registers sparkhub's two JupyterHub services
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
