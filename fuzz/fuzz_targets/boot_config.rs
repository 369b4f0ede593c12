//! The boot configuration parser and the policy behind it: any text either fails with a
//! one-line positioned error or yields a config whose `--check` renders without panicking; any
//! script-request query parses or fails with a message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use optrom_netboot::policy::{BootConfig, ClientFacts, Policy, ServerUrls};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match BootConfig::parse("fuzz.toml", text) {
        Err(e) => assert_eq!(e.to_string().lines().count(), 1),
        Ok(config) => {
            let policy = Policy::new(config);
            let _ = policy.check(&ServerUrls::new("http://10.0.0.1:8080")).render();
        }
    }
    let query: Vec<(String, String)> =
        text.split('&').filter_map(|pair| pair.split_once('=').map(|(k, v)| (k.to_string(), v.to_string()))).collect();
    let _ = ClientFacts::from_ipxe_query(&query);
});
