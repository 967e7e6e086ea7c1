//! A loopback server of Lambda's Invoke API (`POST
//! /2015-03-31/functions/<name>/invocations`) that answers with a function
//! run in the test's process: what `sparkhub start` invokes in the CLI's
//! tests, found through `AWS_ENDPOINT_URL_LAMBDA` (the SDK's per-service
//! endpoint setting; the emulator runs no Lambda functions).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use serde_json::Value;

/// A function's answer: its result, or its error (errorType, errorMessage).
pub type Answer = Result<Value, (String, String)>;

pub struct FakeLambda {
    /// For `AWS_ENDPOINT_URL_LAMBDA`.
    pub endpoint: String,
    /// Every invocation: the function's name and its payload.
    pub invoked: Arc<Mutex<Vec<(String, Value)>>>,
}

impl FakeLambda {
    /// Serves every invocation with `function` (the name and the payload),
    /// run on `runtime` (a multi-thread runtime: the server's own thread
    /// blocks on it).
    pub fn start<F>(runtime: tokio::runtime::Handle, function: F) -> Self
    where
        F: Fn(String, Value) -> BoxFuture<'static, Answer> + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let invoked = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&invoked);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    continue;
                }
                let mut length = 0usize;
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap_or(0);
                    }
                    line.clear();
                }
                let mut body = vec![0; length];
                if reader.read_exact(&mut body).is_err() {
                    continue;
                }
                let target = request.split(' ').nth(1).unwrap_or_default();
                let name = target
                    .strip_prefix("/2015-03-31/functions/")
                    .and_then(|rest| rest.split('/').next())
                    .unwrap_or_default()
                    .to_owned();
                let payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                log.lock().unwrap().push((name.clone(), payload.clone()));
                let (error, answer) = match runtime.block_on(function(name, payload)) {
                    Ok(value) => (None, value),
                    Err((kind, message)) => (
                        Some("Unhandled"),
                        serde_json::json!({"errorType": kind, "errorMessage": message}),
                    ),
                };
                let body = answer.to_string();
                let error = error
                    .map(|e| format!("X-Amz-Function-Error: {e}\r\n"))
                    .unwrap_or_default();
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Amz-Executed-Version: $LATEST\r\n{error}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Self { endpoint, invoked }
    }
}
