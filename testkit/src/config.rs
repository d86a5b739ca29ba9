//! Checks a typed `Config` against the variables it declares (`Config::VARIABLES`), through its
//! lookup parser, so that the list `tests/tests/template.rs` checks is the list the parser reads.

use std::cell::RefCell;
use std::collections::BTreeSet;

use shared::config::{ConfigError, Variable};

/// `parse` (a `Config::from_lookup`) over `complete`, a valid value for every variable:
/// - `complete` sets exactly the declared variables, each declared once;
/// - parsing it succeeds and looks up exactly the declared variables;
/// - without a required variable, or with it blank, parsing fails naming it;
/// - without an optional one, parsing succeeds (its default).
///
/// Returns what `complete` parses to, for the caller's own checks of the values.
pub fn check_variables<C>(
    variables: &[Variable],
    complete: &[(&str, &str)],
    parse: impl Fn(&dyn Fn(&str) -> Option<String>) -> Result<C, ConfigError>,
) -> C {
    let declared: BTreeSet<&str> = variables.iter().map(|v| v.name).collect();
    assert_eq!(
        declared.len(),
        variables.len(),
        "a variable is declared twice: {variables:?}"
    );
    let given: BTreeSet<&str> = complete.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        given, declared,
        "the complete environment sets exactly the declared variables"
    );

    let looked_up = RefCell::new(BTreeSet::new());
    let config = parse(&|name: &str| {
        looked_up.borrow_mut().insert(name.to_owned());
        value(complete, name, None)
    })
    .unwrap_or_else(|error| panic!("the complete environment does not parse: {error}"));
    let looked_up: BTreeSet<String> = looked_up.into_inner();
    let declared_owned: BTreeSet<String> = declared.iter().map(|n| n.to_string()).collect();
    assert_eq!(
        looked_up, declared_owned,
        "the parser reads exactly the declared variables"
    );

    for variable in variables {
        let without = parse(&|name: &str| value(complete, name, Some((variable.name, None))));
        let blank = parse(&|name: &str| value(complete, name, Some((variable.name, Some(" ")))));
        if variable.required {
            assert_eq!(
                without.err(),
                Some(ConfigError::Missing(variable.name)),
                "without {}",
                variable.name
            );
            assert_eq!(
                blank.err(),
                Some(ConfigError::Missing(variable.name)),
                "with {} blank",
                variable.name
            );
        } else {
            assert!(without.is_ok(), "{} is optional: {:?}", variable.name, without.err());
        }
    }
    config
}

/// A lookup over `pairs` (a name not among them is unset), for `Config::from_lookup` in tests.
pub fn lookup<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| value(pairs, name, None)
}

/// `name`'s value in `complete`, unless `replaced` says otherwise for one variable.
fn value(complete: &[(&str, &str)], name: &str, replaced: Option<(&str, Option<&str>)>) -> Option<String> {
    match replaced {
        Some((replaced, value)) if replaced == name => value.map(str::to_owned),
        _ => complete.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string()),
    }
}
