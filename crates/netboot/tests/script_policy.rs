//! The script API as the policy layer will use it: a provider whose decision is
//! not ready yet makes the server answer 503 with Retry-After (iPXE retries after
//! that many seconds), then the script once it is. Checked with curl.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use optrom_netboot::{ScriptDecision, ScriptProvider, ScriptRequest, ServeConfig, Server};

struct SecondTimeLucky {
    calls: AtomicU32,
}

impl ScriptProvider for SecondTimeLucky {
    fn script(&self, request: &ScriptRequest) -> ScriptDecision {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            return ScriptDecision::NotReady { retry_after: Duration::from_millis(2500) };
        }
        let mac = request.query.iter().find(|(k, _)| k == "mac").map_or("?", |(_, v)| v.as_str());
        ScriptDecision::Ready(format!("#!ipxe\necho ready for {mac}\n"))
    }
}

fn curl_available() -> bool {
    optrom_testsupport::needs("EXTERNAL", Command::new("curl").arg("--version").output().is_ok(), "curl")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_is_503_with_retry_after_then_the_script() {
    if !curl_available() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let mut config = ServeConfig {
        root: root.path().to_path_buf(),
        address: Some("127.0.0.1".parse().unwrap()),
        ..Default::default()
    };
    config.tftp.enabled = false;
    config.http.port = 0;
    let provider = Arc::new(SecondTimeLucky { calls: AtomicU32::new(0) });
    let server = Server::bind(&config, provider).await.unwrap();
    let (name, http) = server.local_addrs()[0];
    assert_eq!(name, "http");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async move {
        let _ = stop_rx.await;
    }));
    let url = format!("http://{http}/_/boot.ipxe?mac=52-54-00-12-34-56");
    let fetch = move || Command::new("curl").args(["-sS", "-D", "-", &url]).output().unwrap();
    let first = tokio::task::spawn_blocking(fetch.clone()).await.unwrap();
    let text = String::from_utf8_lossy(&first.stdout).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 503"), "{text}");
    assert!(text.contains("retry-after: 3\r\n"), "2.5 s rounds up to 3: {text}");
    let second = tokio::task::spawn_blocking(fetch).await.unwrap();
    let text = String::from_utf8_lossy(&second.stdout);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.ends_with("#!ipxe\necho ready for 52-54-00-12-34-56\n"), "{text}");
    stop_tx.send(()).unwrap();
    running.await.unwrap().unwrap();
}
