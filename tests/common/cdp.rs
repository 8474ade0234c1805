//! A page opened in headless Chromium, driven over the Chrome DevTools Protocol
//! on a loopback port: console messages, exceptions, failed loads and every
//! request are recorded while it loads; then the page itself is asked which
//! images are broken and how large each figure was drawn, and a full-page
//! screenshot is saved.

use super::{FirstScreen, Page};
use base64::Engine;
use serde_json::{Value, json};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tungstenite::{Message, WebSocket};

type Ws = WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>;

/// The browser process; killed (by its pid, it is ours) when dropped.
struct Chromium {
    child: Child,
}

impl Drop for Chromium {
    /// Give it a few seconds to close after `Browser.close`, then kill it.
    fn drop(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn launch(bin: &Path, profile: &Path) -> (Chromium, String) {
    let child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            &format!("--user-data-dir={}", profile.display()),
            "about:blank",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting chromium");
    let browser = Chromium { child };
    // Chromium writes the port it chose and the browser target's path here.
    let port_file = profile.join("DevToolsActivePort");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(s) = std::fs::read_to_string(&port_file) {
            let mut lines = s.lines();
            if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                return (browser, format!("ws://127.0.0.1:{port}{path}"));
            }
        }
        assert!(Instant::now() < deadline, "chromium did not open its DevTools port");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A DevTools session: commands by id; events are kept for the caller.
struct Session {
    ws: Ws,
    next: u64,
    session: Option<String>,
    events: Vec<Value>,
}

impl Session {
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = &self.session {
            msg["sessionId"] = json!(s);
        }
        self.ws.send(Message::text(msg.to_string())).expect("sending a DevTools command");
        loop {
            let v = self.read();
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method}: {}", v["error"]);
                return v["result"].clone();
            }
            self.events.push(v);
        }
    }

    fn read(&mut self) -> Value {
        loop {
            match self.ws.read().expect("reading from chromium (timed out?)") {
                Message::Text(t) => return serde_json::from_str(t.as_str()).expect("DevTools JSON"),
                Message::Close(_) => panic!("chromium closed the DevTools connection"),
                _ => {}
            }
        }
    }

    /// Read events until `method` arrives (kept with the others).
    fn wait_for(&mut self, method: &str) {
        if self.events.iter().any(|e| e["method"] == method) {
            return;
        }
        loop {
            let v = self.read();
            let done = v["method"] == method;
            self.events.push(v);
            if done {
                return;
            }
        }
    }
}

/// What the page reports about itself once loaded.
const PROBE: &str = r#"JSON.stringify({
  images: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src')),
  figures: [...document.querySelectorAll('figure[data-figure]')].map(f => {
    const s = f.querySelector('svg'); const r = s ? s.getBoundingClientRect() : {width: 0, height: 0};
    return [f.dataset.figure, r.width, r.height]; }),
  warnings: [...document.querySelectorAll('.warning summary')].map(h => h.textContent),
  warning_lines: document.querySelectorAll('.warning li').length,
  warning_lines_shown: [...document.querySelectorAll('.warning li')].filter(l => l.checkVisibility()).length,
  first_figure_top: Math.min(...[...document.querySelectorAll('figure[data-figure] svg')].map(s => s.getBoundingClientRect().top)),
  warnings_top: (w => w ? w.getBoundingClientRect().top : null)(document.getElementById('warnings')),
  absent: [...document.querySelectorAll('[data-absent]')].filter(a => a.checkVisibility() && a.textContent.includes('not drawn')).map(a => a.dataset.absent),
  height: Math.ceil(document.documentElement.scrollHeight)
})"#;

fn problems_in(events: &[Value], page_url: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in events {
        let p = &e["params"];
        match e["method"].as_str().unwrap_or("") {
            "Runtime.consoleAPICalled" if matches!(p["type"].as_str(), Some("error" | "assert")) => {
                let args: Vec<String> = p["args"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| a["value"].to_string().trim_matches('"').to_string())
                    .collect();
                out.push(format!("console error: {}", args.join(" ")));
            }
            "Runtime.exceptionThrown" => out.push(format!("exception: {}", p["exceptionDetails"]["text"])),
            "Log.entryAdded" if p["entry"]["level"] == "error" => {
                out.push(format!("console error: {} {}", p["entry"]["text"], p["entry"]["url"]))
            }
            "Network.requestWillBeSent" => {
                let url = p["request"]["url"].as_str().unwrap_or("");
                if url != page_url && !url.starts_with("data:") {
                    out.push(format!("the page fetched {url}"));
                }
            }
            "Network.loadingFailed" => out.push(format!("load failed: {}", p["errorText"])),
            _ => {}
        }
    }
    out
}

/// Open `page`, collect what went wrong, save a full-page screenshot.
pub fn check(bin: &Path, page: &Path, screenshot: &Path) -> Page {
    let profile = std::env::temp_dir().join(format!("zcbench-chromium-{}-{}", std::process::id(), rand_tag()));
    let _ = std::fs::remove_dir_all(&profile);
    std::fs::create_dir_all(&profile).unwrap();
    let (browser, url) = launch(bin, &profile);
    let (ws, _) = tungstenite::connect(url.as_str()).expect("connecting to chromium's DevTools port");
    if let tungstenite::stream::MaybeTlsStream::Plain(s) = ws.get_ref() {
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    }
    let mut s = Session { ws, next: 0, session: None, events: Vec::new() };
    let target = s.call("Target.createTarget", json!({"url": "about:blank"}));
    let attached = s.call("Target.attachToTarget", json!({"targetId": target["targetId"], "flatten": true}));
    s.session = Some(attached["sessionId"].as_str().unwrap().to_string());
    for domain in ["Page", "Runtime", "Log", "Network"] {
        s.call(&format!("{domain}.enable"), json!({}));
    }
    s.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false}),
    );
    s.events.clear();
    let page_url = format!("file://{}", page.canonicalize().unwrap().display());
    s.call("Page.navigate", json!({"url": page_url}));
    s.wait_for("Page.loadEventFired");
    let probe = s.call("Runtime.evaluate", json!({"expression": PROBE, "returnByValue": true}));
    let v: Value = serde_json::from_str(probe["result"]["value"].as_str().expect("the probe ran")).unwrap();
    let height = v["height"].as_u64().unwrap().clamp(900, 16000);
    // The whole page, and the same in screens of 1600 px (readable one at a time).
    let mut shoot = |y: u64, h: u64, to: &Path| {
        let clip = json!({"x": 0, "y": y, "width": 1280, "height": h, "scale": 1});
        let shot =
            s.call("Page.captureScreenshot", json!({"format": "png", "captureBeyondViewport": true, "clip": clip}));
        let png = base64::engine::general_purpose::STANDARD.decode(shot["data"].as_str().unwrap()).unwrap();
        std::fs::write(to, png).unwrap();
    };
    shoot(0, height, screenshot);
    for (k, y) in (0..height).step_by(1600).enumerate() {
        let stem = screenshot.file_stem().unwrap().to_string_lossy();
        shoot(y, (height - y).min(1600), &screenshot.with_file_name(format!("{stem}-{:02}.png", k + 1)));
    }
    let mut problems = problems_in(&s.events, &page_url);
    for src in v["images"].as_array().unwrap() {
        problems.push(format!("broken image: {src}"));
    }
    let figures = v["figures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f[0].as_str().unwrap().to_string(), f[1].as_f64().unwrap(), f[2].as_f64().unwrap()))
        .collect();
    let strings = |k: &str| v[k].as_array().unwrap().iter().map(|w| w.as_str().unwrap().to_string()).collect();
    let warnings = strings("warnings");
    let absent = strings("absent");
    let first_screen = FirstScreen {
        figure_top: v["first_figure_top"].as_f64().unwrap_or(f64::INFINITY),
        warnings_top: v["warnings_top"].as_f64(),
        warning_lines: v["warning_lines"].as_u64().unwrap() as usize,
        warning_lines_shown: v["warning_lines_shown"].as_u64().unwrap() as usize,
    };
    // Browser-level, so outside the page's session; the reply is not waited for.
    let _ = s.ws.send(Message::text(json!({"id": 0, "method": "Browser.close", "params": {}}).to_string()));
    drop(browser);
    let _ = std::fs::remove_dir_all(&profile);
    Page { problems, figures, warnings, absent, first_screen }
}

fn rand_tag() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}
