#!/bin/bash
# sparkhub bootstrap action for profile @@PROFILE@@: on the master node,
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
@@REPORTER@@
REPORTER
sudo tee /usr/local/bin/sparkhub-hub-setup >/dev/null <<'SETUP'
@@SETUP@@
SETUP
sudo chmod 0755 /usr/local/bin/sparkhub-notebook-activity /usr/local/bin/sparkhub-hub-setup

sudo tee /etc/systemd/system/sparkhub-notebook-activity.service >/dev/null <<'UNIT'
@@REPORTER_SERVICE@@
UNIT
sudo tee /etc/systemd/system/sparkhub-notebook-activity.timer >/dev/null <<'UNIT'
@@REPORTER_TIMER@@
UNIT
sudo systemctl daemon-reload
echo "sparkhub bootstrap: activity agent installed; the users step starts it once the cluster is ready" >&2
