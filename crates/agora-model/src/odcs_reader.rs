//! Reading a contract document field by field, with paths for error messages and a record of
//! the fields nobody read (they become "kept but not used" warnings).

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::ModelError;

/// A JSON object being read, with its path for error messages and the keys read so far, so
/// that the keys nobody read become "kept but not used" warnings.
pub(crate) struct Obj<'a> {
    pub(crate) path: String,
    /// The path with indices replaced by `[]`, to report a field once for all list items.
    pattern: String,
    map: &'a Map<String, Value>,
    used: std::cell::RefCell<BTreeSet<String>>,
    nested_unused: std::cell::RefCell<BTreeSet<String>>,
}

impl<'a> Obj<'a> {
    pub(crate) fn root(doc: &'a Value) -> Result<Self, ModelError> {
        let map = doc.as_object().ok_or_else(|| {
            ModelError::InvalidContract("the document is not a YAML mapping of ODCS fields".into())
        })?;
        Ok(Obj {
            path: String::new(),
            pattern: String::new(),
            map,
            used: Default::default(),
            nested_unused: Default::default(),
        })
    }

    pub(crate) fn child(
        &self,
        key: &str,
        index: Option<usize>,
        map: &'a Map<String, Value>,
    ) -> Obj<'a> {
        let sep = if self.path.is_empty() { "" } else { "." };
        let (path, pattern) = match index {
            Some(i) => (
                format!("{}{sep}{key}[{i}]", self.path),
                format!("{}{sep}{key}[]", self.pattern),
            ),
            None => (
                format!("{}{sep}{key}", self.path),
                format!("{}{sep}{key}", self.pattern),
            ),
        };
        Obj {
            path,
            pattern,
            map,
            used: Default::default(),
            nested_unused: Default::default(),
        }
    }

    pub(crate) fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            format!("`{key}`")
        } else {
            format!("`{}.{key}`", self.path)
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.used.borrow_mut().insert(key.to_string());
        self.map.get(key)
    }

    pub(crate) fn raw(&self, key: &str) -> Option<Value> {
        self.get(key).filter(|v| !v.is_null()).cloned()
    }

    pub(crate) fn opt_str(&self, key: &str) -> Result<Option<String>, ModelError> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            // YAML reads `version: 1.0` or `id: 42` as numbers; they are still text to ODCS.
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(other) => Err(ModelError::InvalidContract(format!(
                "{} must be text, found {}",
                self.field(key),
                kind_of(other)
            ))),
        }
    }

    pub(crate) fn required_str(&self, key: &str) -> Result<String, ModelError> {
        self.opt_str(key)?
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| {
                ModelError::InvalidContract(format!(
                    "required field {} is missing",
                    self.field(key)
                ))
            })
    }

    pub(crate) fn bool(&self, key: &str) -> Result<bool, ModelError> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(ModelError::InvalidContract(format!(
                "{} must be true or false, found {}",
                self.field(key),
                kind_of(other)
            ))),
        }
    }

    pub(crate) fn array(&self, key: &str) -> Result<&'a [Value], ModelError> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(other) => Err(ModelError::InvalidContract(format!(
                "{} must be a list, found {}",
                self.field(key),
                kind_of(other)
            ))),
        }
    }

    pub(crate) fn strings(&self, key: &str) -> Result<Vec<String>, ModelError> {
        Ok(self
            .array(key)?
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            })
            .collect())
    }

    pub(crate) fn object(&self, key: &str) -> Result<Option<Obj<'a>>, ModelError> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(map)) => Ok(Some(self.child(key, None, map))),
            Some(other) => Err(ModelError::InvalidContract(format!(
                "{} must be a mapping, found {}",
                self.field(key),
                kind_of(other)
            ))),
        }
    }

    pub(crate) fn objects(&self, key: &str) -> Result<Vec<Obj<'a>>, ModelError> {
        self.array(key)?
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Object(map) => Ok(self.child(key, Some(i), map)),
                other => Err(ModelError::InvalidContract(format!(
                    "`{}[{i}]` must be a mapping, found {}",
                    self.field(key).trim_matches('`'),
                    kind_of(other)
                ))),
            })
            .collect()
    }

    /// Hands this child's unused keys up to its parent.
    pub(crate) fn collect_into(&self, parent: &Obj) {
        let mut out = parent.nested_unused.borrow_mut();
        self.unused_into(&mut out);
    }

    pub(crate) fn collect_unused(&self, out: &mut BTreeSet<String>) {
        self.unused_into(out);
    }

    pub(crate) fn unused_into(&self, out: &mut BTreeSet<String>) {
        let used = self.used.borrow();
        let sep = if self.pattern.is_empty() { "" } else { "." };
        for key in self.map.keys().filter(|k| !used.contains(*k)) {
            out.insert(format!("{}{sep}{key}", self.pattern));
        }
        out.extend(self.nested_unused.borrow().iter().cloned());
    }
}

pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}
