//! Failures the emulator injects, so a client's retry and recovery paths run in tests: server
//! errors, rate limits, dropped connections (before or after a write is applied) and latency.

use std::time::Duration;

/// One injected failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// A server error with the given status (500, 502, 503, 504...). `html: true` answers with an
    /// HTML page (what GitHub's front end sends on 502/503), otherwise a JSON `{message}` body.
    ServerError { status: u16, html: bool },
    /// 429 with `retry-after` (a secondary rate limit, answered as 429).
    TooManyRequests { retry_after_secs: u64 },
    /// 403 "You have exceeded a secondary rate limit..." with `retry-after` when given, while
    /// `x-ratelimit-remaining` stays above 0 (that is how it differs from the primary limit).
    SecondaryRateLimit { retry_after_secs: Option<u64> },
    /// The request body is read, nothing is applied, and the connection is closed without a
    /// response.
    DropBeforeApply,
    /// The request is applied (a write is committed), then the connection is closed without a
    /// response: the client cannot know whether its write happened.
    DropAfterApply,
    /// The request is answered normally after this delay.
    Latency(Duration),
}

impl Fault {
    /// `500` with a JSON body.
    pub fn status(status: u16) -> Fault {
        Fault::ServerError {
            status,
            html: false,
        }
    }
}

/// "Fail the next `times` requests matching `method` and `path_prefix` with `fault`."
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    /// `None` matches every method; otherwise upper-case (`"PUT"`).
    pub method: Option<String>,
    /// Prefix of the request's (percent-decoded) path, e.g. `"/repos/GridTools/pypi/contents/"`;
    /// `""` matches every path. [`crate::Emulator::contents_path`] builds such paths.
    pub path_prefix: String,
    /// How many more matching requests fail. The rule is spent at 0.
    pub times: u32,
    pub fault: Fault,
}

impl FaultRule {
    /// A rule for `method` (`"*"` for any) on paths starting with `path_prefix`.
    pub fn new(method: &str, path_prefix: &str, times: u32, fault: Fault) -> FaultRule {
        FaultRule {
            method: (method != "*").then(|| method.to_ascii_uppercase()),
            path_prefix: path_prefix.to_string(),
            times,
            fault,
        }
    }

    pub(crate) fn matches(&self, method: &str, path: &str) -> bool {
        self.times > 0
            && self.method.as_deref().is_none_or(|m| m == method)
            && path.starts_with(&self.path_prefix)
    }
}

/// Faults drawn at random, reproducibly: the same seed and the same sequence of requests give
/// the same faults.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomFaults {
    /// Chance that a request gets a fault, 0.0..=1.0.
    pub probability: f64,
    /// The faults to pick from, uniformly.
    pub faults: Vec<Fault>,
    pub seed: u64,
    /// Only requests with these methods (upper-case) get faults; empty means all.
    pub methods: Vec<String>,
}

/// What goes wrong, and when. Scripted rules are checked first, in order; the first matching rule
/// with `times > 0` fires and is decremented. Otherwise random faults may fire.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultPlan {
    pub rules: Vec<FaultRule>,
    pub random: Option<RandomFaults>,
}

impl FaultPlan {
    /// No faults.
    pub fn none() -> FaultPlan {
        FaultPlan::default()
    }

    /// A plan with a single scripted rule.
    pub fn next(method: &str, path_prefix: &str, times: u32, fault: Fault) -> FaultPlan {
        FaultPlan {
            rules: vec![FaultRule::new(method, path_prefix, times, fault)],
            random: None,
        }
    }

    /// Adds a scripted rule.
    pub fn with_rule(mut self, rule: FaultRule) -> FaultPlan {
        self.rules.push(rule);
        self
    }

    /// Adds random faults.
    pub fn with_random(mut self, random: RandomFaults) -> FaultPlan {
        self.random = Some(random);
        self
    }
}

/// The plan plus the state it consumes (rule counters, the seeded generator).
pub(crate) struct FaultState {
    plan: FaultPlan,
    rng: fastrand::Rng,
}

impl FaultState {
    pub fn new(plan: FaultPlan) -> FaultState {
        let seed = plan.random.as_ref().map_or(0, |r| r.seed);
        FaultState {
            plan,
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    pub fn add_rule(&mut self, rule: FaultRule) {
        self.plan.rules.push(rule);
    }

    pub fn plan(&self) -> FaultPlan {
        self.plan.clone()
    }

    /// The fault for this request, if any; consumes one use of a scripted rule.
    pub fn draw(&mut self, method: &str, path: &str) -> Option<Fault> {
        if let Some(rule) = self.plan.rules.iter_mut().find(|r| r.matches(method, path)) {
            rule.times -= 1;
            return Some(rule.fault.clone());
        }
        let random = self.plan.random.as_ref()?;
        if random.faults.is_empty()
            || !(random.methods.is_empty() || random.methods.iter().any(|m| m == method))
        {
            return None;
        }
        if self.rng.f64() < random.probability {
            Some(random.faults[self.rng.usize(..random.faults.len())].clone())
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripted_rules_fire_the_given_number_of_times_on_matching_requests() {
        let mut s = FaultState::new(FaultPlan::next(
            "put",
            "/repos/o/r/contents/a",
            2,
            Fault::DropAfterApply,
        ));
        assert_eq!(s.draw("GET", "/repos/o/r/contents/a"), None);
        assert_eq!(s.draw("PUT", "/repos/o/r/contents/b"), None);
        assert_eq!(
            s.draw("PUT", "/repos/o/r/contents/a/x"),
            Some(Fault::DropAfterApply)
        );
        assert_eq!(
            s.draw("PUT", "/repos/o/r/contents/a"),
            Some(Fault::DropAfterApply)
        );
        assert_eq!(s.draw("PUT", "/repos/o/r/contents/a"), None);
    }

    #[test]
    fn random_faults_are_reproducible_from_the_seed() {
        let plan = FaultPlan::none().with_random(RandomFaults {
            probability: 0.5,
            faults: vec![Fault::status(500), Fault::status(503)],
            seed: 7,
            methods: vec![],
        });
        let run = |plan: &FaultPlan| {
            let mut s = FaultState::new(plan.clone());
            (0..50).map(|_| s.draw("GET", "/x")).collect::<Vec<_>>()
        };
        let a = run(&plan);
        assert_eq!(a, run(&plan));
        let hits = a.iter().filter(|f| f.is_some()).count();
        assert!((10..=40).contains(&hits), "{hits}");
    }
}
