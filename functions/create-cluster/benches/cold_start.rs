//! Cold start of the create-cluster binary: from process start until it first
//! asks the Lambda Runtime API for an event, and its peak RSS (VmHWM) at that
//! moment. The Runtime API is a stub on a loopback port that records the time
//! of the first `GET /2018-06-01/runtime/invocation/next`.
//!
//! Run: `cargo bench -p create-cluster --bench cold_start` (release profile).
//! Prints one line per run and the median / p90 / max.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const RUNS: usize = 20;

fn main() {
    let binary = env!("CARGO_BIN_EXE_create-cluster");
    let mut millis = Vec::new();
    let mut rss = Vec::new();
    for run in 0..RUNS {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().unwrap().port();
        let (polled, first_poll) = mpsc::channel();
        std::thread::spawn(move || {
            // Answer nothing: the function blocks on its first poll, which is
            // what we wait for.
            let (mut stream, _) = listener.accept().expect("the function connects");
            let mut line = String::new();
            BufReader::new(stream.try_clone().unwrap())
                .read_line(&mut line)
                .unwrap();
            if line.starts_with("GET /2018-06-01/runtime/invocation/next") {
                polled.send(Instant::now()).unwrap();
            }
            std::thread::sleep(Duration::from_secs(5));
            let _ = stream.write_all(b"");
        });

        let start = Instant::now();
        let mut child = Command::new(binary)
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
            .env("AWS_LAMBDA_FUNCTION_NAME", "create-cluster")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "bench")
            .env("AWS_SECRET_ACCESS_KEY", "bench")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("SPARKHUB_BUCKET", "sparkhub-bench")
            .env(
                "SPARKHUB_STATE_MACHINE_ARN",
                "arn:aws:states:us-east-1:123456789012:stateMachine:sparkhub-cluster",
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the function binary starts");
        let polled_at = first_poll
            .recv_timeout(Duration::from_secs(10))
            .expect("the function polls the Runtime API within 10 s");
        let peak_kib = peak_rss_kib(child.id());
        child.kill().ok();
        child.wait().ok();

        let ms = polled_at.duration_since(start).as_secs_f64() * 1000.0;
        println!(
            "run {run:2}: first poll after {ms:6.2} ms, peak RSS {:5.1} MiB",
            peak_kib as f64 / 1024.0
        );
        millis.push(ms);
        rss.push(peak_kib as f64 / 1024.0);
    }
    report("cold start to first poll (ms)", &mut millis);
    report("peak RSS at first poll (MiB)", &mut rss);
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/<pid>/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/<pid>/status")
}

fn report(what: &str, values: &mut [f64]) {
    values.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    println!(
        "{what}: median {:.2}, p90 {:.2}, max {:.2} over {} runs",
        at(0.5),
        at(0.9),
        at(1.0),
        values.len()
    );
}
