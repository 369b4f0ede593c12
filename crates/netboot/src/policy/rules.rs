//! Rule selection: which rule decides for a client. A rule matches when every selector it sets
//! matches; among matching rules the most specific wins — a machine identity (MAC, UUID) beats a
//! hostname, which beats a label, which beats an architecture, which beats a firmware class; a
//! rule naming more of them beats one naming fewer on the same level. Equal specificity goes to
//! the rule written first.

use super::client::ClientFacts;
use super::config::{BootConfig, Machine, Rule, Selector};

/// How specific a selector is; compared lexicographically (derived `Ord` follows field order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Specificity {
    /// Number of identity keys set (MAC, UUID).
    pub identity: u8,
    /// 1 if a hostname is set.
    pub hostname: u8,
    /// 1 if a label is set.
    pub label: u8,
    /// 1 if an architecture is set.
    pub arch: u8,
    /// 1 if a firmware class is set.
    pub firmware: u8,
}

impl Specificity {
    /// The selector's specificity.
    pub fn of(selector: &Selector) -> Specificity {
        Specificity {
            identity: u8::from(selector.mac.is_some()) + u8::from(selector.uuid.is_some()),
            hostname: u8::from(selector.hostname.is_some()),
            label: u8::from(selector.label.is_some()),
            arch: u8::from(selector.arch.is_some()),
            firmware: u8::from(selector.firmware.is_some()),
        }
    }

    /// The keys that made it, for `--explain` (`mac+arch`).
    pub fn describe(selector: &Selector) -> String {
        let keys: Vec<&str> = [
            ("mac", selector.mac.is_some()),
            ("uuid", selector.uuid.is_some()),
            ("hostname", selector.hostname.is_some()),
            ("label", selector.label.is_some()),
            ("arch", selector.arch.is_some()),
            ("firmware", selector.firmware.is_some()),
        ]
        .iter()
        .filter(|(_, set)| *set)
        .map(|(k, _)| *k)
        .collect();
        if keys.is_empty() { "catch-all".into() } else { keys.join("+") }
    }
}

/// The facts a rule is matched against: the client's own plus what the inventory adds.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    /// The client's own facts.
    pub facts: &'a ClientFacts,
    /// Its inventory entry, if any.
    pub machine: Option<&'a Machine>,
    /// Inventory hostname, else the reported one.
    pub hostname: Option<String>,
    /// Caller labels plus inventory labels.
    pub labels: Vec<String>,
}

impl<'a> Subject<'a> {
    /// Looks the client up in the inventory (by MAC first, then UUID) and merges hostname and
    /// labels.
    pub fn new(config: &'a BootConfig, facts: &'a ClientFacts) -> Subject<'a> {
        let machine = config
            .machines
            .iter()
            .find(|m| m.mac.is_some() && m.mac == facts.mac)
            .or_else(|| config.machines.iter().find(|m| m.uuid.is_some() && m.uuid == facts.uuid));
        let hostname = machine.and_then(|m| m.hostname.clone()).or_else(|| facts.hostname.clone());
        let mut labels = facts.labels.clone();
        for l in machine.map(|m| m.labels.as_slice()).unwrap_or_default() {
            if !labels.contains(l) {
                labels.push(l.clone());
            }
        }
        Subject { facts, machine, hostname, labels }
    }
}

/// True if every key the selector sets matches the subject.
pub fn matches(selector: &Selector, subject: &Subject) -> bool {
    let f = subject.facts;
    selector.mac.is_none_or(|m| f.mac == Some(m))
        && selector.uuid.as_ref().is_none_or(|u| f.uuid.as_ref() == Some(u))
        && selector.arch.is_none_or(|a| f.arch == a)
        && selector.firmware.is_none_or(|c| f.firmware == c)
        && selector
            .hostname
            .as_ref()
            .is_none_or(|h| subject.hostname.as_ref().is_some_and(|s| s.eq_ignore_ascii_case(h)))
        && selector.label.as_ref().is_none_or(|l| subject.labels.contains(l))
}

/// The outcome of rule selection.
#[derive(Debug, Clone)]
pub struct Selection<'a> {
    /// The deciding rule, if any matched.
    pub winner: Option<&'a Rule>,
    /// Other rules that matched, most specific first (for `--explain`).
    pub also_matched: Vec<&'a Rule>,
}

/// Picks the most specific matching rule.
pub fn select<'a>(rules: &'a [Rule], subject: &Subject) -> Selection<'a> {
    let mut matching: Vec<(usize, &Rule)> =
        rules.iter().enumerate().filter(|(_, r)| matches(&r.selector, subject)).collect();
    // Stable sort: more specific first; equal specificity keeps file order.
    matching
        .sort_by(|(ia, a), (ib, b)| Specificity::of(&b.selector).cmp(&Specificity::of(&a.selector)).then(ia.cmp(ib)));
    let mut rules = matching.into_iter().map(|(_, r)| r);
    Selection { winner: rules.next(), also_matched: rules.collect() }
}
