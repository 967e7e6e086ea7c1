#!/bin/bash
# sparkhub bootstrap action for profile @@PROFILE@@: installs the notebook
# activity reporter on the master node and runs it every minute from cron.
# Other nodes have no hub and need no reporter.
set -euo pipefail

info_dir=${SPARKHUB_INFO_DIR:-/mnt/var/lib/info}
if ! grep -q '"isMaster": *true' "$info_dir/instance.json"; then
  echo "sparkhub bootstrap: not the master node, no notebook reporter" >&2
  exit 0
fi

sudo tee /usr/local/bin/sparkhub-notebook-activity >/dev/null <<'REPORTER'
@@REPORTER@@
REPORTER
sudo chmod 0755 /usr/local/bin/sparkhub-notebook-activity
echo '* * * * * root /usr/local/bin/sparkhub-notebook-activity >>/var/log/sparkhub-notebook-activity.log 2>&1' |
  sudo tee /etc/cron.d/sparkhub-notebook-activity >/dev/null
echo "sparkhub bootstrap: notebook activity reporter installed" >&2
