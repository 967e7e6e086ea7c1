//! A real JupyterHub for the tests: `jupyterhub` from PyPI in its own venv
//! (`make venv-jupyterhub`: `.venv-jupyterhub` holds the version EMR 7 ships,
//! `.venv-jupyterhub5` the current 5.x) behind `configurable-http-proxy` from
//! npm (`make npm`), on free loopback ports, in a temporary directory that
//! plays EMR's `/etc/jupyter/conf`. Stopped when dropped.
//!
//! The hub runs under a small supervisor loop, so "restarting the
//! `jupyterhub` container" is: stop the hub process (SIGTERM, as `docker
//! stop` does), and the loop starts it again with the same configuration.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sparkhub_core::testing::workspace_root;

/// One running JupyterHub.
pub struct LocalHub {
    /// Plays `/etc/jupyter/conf`: `jupyterhub_config.py`, the database, the pid file.
    pub conf_dir: PathBuf,
    /// `http://127.0.0.1:<port>/hub/api`, through the proxy as on EMR.
    pub api: String,
    /// The venv the hub runs from.
    pub venv: PathBuf,
    supervisor: Child,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

impl LocalHub {
    /// Starts the hub of the venv `venv` (relative to the workspace root) and
    /// waits until its API answers.
    pub fn start(venv: &str) -> Self {
        let root = workspace_root();
        let venv = root.join(venv);
        let jupyterhub = venv.join("bin/jupyterhub");
        assert!(
            jupyterhub.exists(),
            "{} is missing: run `make venv-jupyterhub` (make test does)",
            jupyterhub.display()
        );
        let node_bin = root.join("node_modules/.bin");
        assert!(
            node_bin.join("configurable-http-proxy").exists(),
            "configurable-http-proxy is missing: run `make npm` (make test does)"
        );
        let conf_dir = std::env::temp_dir().join(crate::unique("sparkhub-hub"));
        std::fs::create_dir_all(&conf_dir).unwrap();
        let (port, hub_port, proxy_api) = (free_port(), free_port(), free_port());
        let dir = conf_dir.display();
        // What matters of EMR's configuration: PAM users, jovyan as admin.
        // PAM checks a password against the container's /etc/shadow, which
        // the users step writes with `chpasswd -e`; here an authenticator
        // does the same with glibc's crypt over `shadow/<user>` (where the
        // tests' stand-in `docker exec … chpasswd -e` writes), so a login is
        // a real password check against the hash sparkhub made.
        let config = format!(
            r#"# JupyterHub configuration for sparkhub's tests (EMR's lives in /etc/jupyter/conf).
c = get_config()  # noqa: F821
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api}"
c.JupyterHub.db_url = "sqlite:///{dir}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{dir}/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = "{dir}/jupyterhub.pid"
import crypt, os  # noqa: E401
from jupyterhub.auth import Authenticator
class ShadowAuthenticator(Authenticator):
    async def authenticate(self, handler, data):
        try:
            with open(os.path.join("{dir}/shadow", data["username"])) as f:
                stored = f.read().strip()
        except OSError:
            return None
        if stored.startswith("$") and crypt.crypt(data["password"], stored) == stored:
            return data["username"]
        return None
c.JupyterHub.authenticator_class = ShadowAuthenticator
# EMR's hub lets every PAM user in; JupyterHub >= 5 needs saying so.
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = "simple"
c.Authenticator.admin_users = {{"jovyan"}}
"#
        );
        std::fs::write(conf_dir.join("jupyterhub_config.py"), config).unwrap();
        std::fs::create_dir_all(conf_dir.join("shadow")).unwrap();
        let path = format!(
            "{}:{}:{}",
            venv.join("bin").display(),
            node_bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let supervisor = Command::new("bash")
            .arg("-c")
            .arg(
                r#"while [ ! -e stop ]; do "$JUPYTERHUB" -f jupyterhub_config.py >>jupyterhub.log 2>&1 || sleep 0.5; done"#,
            )
            .current_dir(&conf_dir)
            .env("PATH", path)
            .env("JUPYTERHUB", &jupyterhub)
            .stdin(Stdio::null())
            .spawn()
            .expect("bash starts the hub");
        let hub = Self {
            api: format!("http://127.0.0.1:{port}/hub/api"),
            conf_dir,
            venv,
            supervisor,
        };
        hub.wait_until_up(Duration::from_secs(60));
        hub
    }

    /// Waits until `GET /hub/api` answers.
    pub fn wait_until_up(&self, limit: Duration) {
        let start = Instant::now();
        while start.elapsed() < limit {
            if ureq::get(&format!("{}/", self.api)).call().is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "JupyterHub did not answer at {} within {limit:?}; its log:\n{}",
            self.api,
            self.log()
        );
    }

    /// The hub's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.conf_dir.join("jupyterhub.log")).unwrap_or_default()
    }

    /// The hub's version (`jupyterhub --version`).
    pub fn version(&self) -> String {
        let out = Command::new(self.venv.join("bin/jupyterhub"))
            .arg("--version")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// A new API token of `user`, made as an admin makes one on EMR
    /// (`jupyterhub token <user>`); requests with it are that user's activity.
    pub fn user_token(&self, user: &str) -> String {
        let out = Command::new(self.venv.join("bin/jupyterhub"))
            .args(["token", user, "-f", "jupyterhub_config.py"])
            .current_dir(&self.conf_dir)
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", self.venv.join("bin").display()),
            )
            .output()
            .unwrap();
        let token = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .trim()
            .to_owned();
        assert!(
            out.status.success() && token.len() >= 16,
            "jupyterhub token {user} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        token
    }

    /// Plays the container's `/etc/shadow` for the hub's authenticator: one
    /// file per user with their crypt hash.
    pub fn shadow_dir(&self) -> PathBuf {
        self.conf_dir.join("shadow")
    }

    /// Logs in through the hub's login form, as a person does; whether the
    /// hub accepted `password` for `user`.
    pub fn login(&self, user: &str, password: &str) -> bool {
        let base = self.api.trim_end_matches("/api");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .build()
            .into();
        let page = agent
            .get(&format!("{base}/login"))
            .call()
            .expect("the login page answers");
        let xsrf = page
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| c.strip_prefix("_xsrf="))
            .map(|c| c.split(';').next().unwrap_or_default().to_owned())
            .unwrap_or_default();
        let answer = agent
            .post(&format!("{base}/login"))
            .header("Cookie", &format!("_xsrf={xsrf}"))
            .send_form([("username", user), ("password", password), ("_xsrf", &xsrf)])
            .expect("the login form answers");
        // A login redirects with a session cookie; a refusal shows the form again.
        answer.status() == 302
            && answer
                .headers()
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(|c| {
                    c.starts_with("jupyterhub-session-id=")
                        || c.starts_with("jupyterhub-hub-login=")
                })
    }

    /// `GET <api><path>` with `token`; the parsed JSON body.
    pub fn get(&self, path: &str, token: &str) -> serde_json::Value {
        let body = ureq::get(&format!("{}{path}", self.api))
            .header("Authorization", &format!("token {token}"))
            .call()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
            .body_mut()
            .read_to_string()
            .unwrap();
        serde_json::from_str(&body).unwrap()
    }

    /// Names of the users the hub itself lists, asked with `token`.
    pub fn user_names(&self, token: &str) -> Vec<String> {
        let users = self.get("/users", token);
        let mut names: Vec<String> = users
            .as_array()
            .expect("a list of users")
            .iter()
            .map(|u| u["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    }

    /// Path of the pid file, for a stand-in `docker stop jupyterhub`.
    pub fn pid_file(&self) -> PathBuf {
        self.conf_dir.join("jupyterhub.pid")
    }

    /// Stops the hub process as `docker stop` would; the supervisor starts it
    /// again, as `docker start` does. Returns at once: the restart is under way.
    pub fn restart(&self) {
        let pid = std::fs::read_to_string(self.pid_file()).expect("the hub's pid file");
        let status = Command::new("kill")
            .arg(pid.trim())
            .status()
            .expect("kill runs");
        assert!(
            status.success(),
            "the hub process {pid} could not be stopped"
        );
    }
}

impl Drop for LocalHub {
    fn drop(&mut self) {
        let _ = std::fs::File::create(self.conf_dir.join("stop")).and_then(|mut f| f.flush());
        stop_hub_process(&self.pid_file());
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.supervisor.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.supervisor.kill();
        let _ = self.supervisor.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.conf_dir);
        }
    }
}

/// SIGTERM to the hub process named by the pid file (the hub then stops its proxy).
fn stop_hub_process(pid_file: &Path) {
    if let Ok(pid) = std::fs::read_to_string(pid_file) {
        let _ = Command::new("kill").arg(pid.trim()).status();
    }
}
