//! The one way an error is shown with its causes: cargo style for people (`error: …`, then
//! `Caused by:` lines), or on one line for log lines and annotations. Causes that only repeat
//! their parent's text (hyper and reqwest do) are left out.

use std::error::Error;

/// The error's text, then each cause's, without those a previous text already holds.
pub fn messages(error: &dyn Error) -> Vec<String> {
    let mut texts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !texts.iter().any(|t| t.contains(&text)) {
            texts.push(text);
        }
        source = cause.source();
    }
    texts
}

/// `what failed: because: because`, for one log line.
pub fn one_line(error: &dyn Error) -> String {
    messages(error).join(": ")
}

/// `error: what failed`, then `Caused by:` and one indented line per cause, as cargo prints.
pub fn report(error: &dyn Error) -> String {
    let texts = messages(error);
    let mut out = format!("error: {}\n", texts[0]);
    if texts.len() > 1 {
        out.push_str("\nCaused by:\n");
        for cause in &texts[1..] {
            out.push_str(&format!("  {cause}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum Outer {
        #[error("could not publish `x.whl`")]
        Publish(#[source] Middle),
    }

    #[derive(Debug, thiserror::Error)]
    enum Middle {
        #[error("error sending request: connection closed")]
        Send(#[source] std::io::Error),
    }

    fn sample() -> Outer {
        Outer::Publish(Middle::Send(std::io::Error::other("connection closed")))
    }

    #[test]
    fn causes_are_listed_once_each() {
        assert_eq!(
            messages(&sample()),
            [
                "could not publish `x.whl`",
                "error sending request: connection closed"
            ]
        );
        assert_eq!(
            one_line(&sample()),
            "could not publish `x.whl`: error sending request: connection closed"
        );
        assert_eq!(
            report(&sample()),
            "error: could not publish `x.whl`\n\nCaused by:\n  error sending request: connection closed\n"
        );
        assert_eq!(report(&std::io::Error::other("plain")), "error: plain\n");
    }
}
