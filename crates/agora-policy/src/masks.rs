//! The masking functions a governed plan applies to column values, as DataFusion expressions.
//!
//! The functions that need code of their own (keyed hashing, keep-the-tail masking, IP
//! prefixes, the deny marker) are scalar UDFs that are *not* registered in any session: SQL
//! cannot call them by name, so a reader cannot hash guesses to compare with masked values.
//! Dates and coordinates are generalised with DataFusion's own `date_trunc` and `round`.
//!
//! Hashing is the default action and the costly one (an HMAC per value), so the write path
//! stores the hash of the columns a policy may hash beside them (see [`StoredHash`]); the mask
//! then reads the stored hash and computes it only where a row has none (rows written before the
//! column became hashed).

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use agora_model::Category;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
    cast as cast_expr, lit, when,
};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::{Action, StoredHash};

/// The name of the function that marks a denied column; the governed session refuses any
/// optimised plan that still calls it.
pub const DENIED_FUNCTION: &str = "agora_denied";

/// How many bytes of the HMAC a hashed value keeps (hex: twice as many characters). 128 bits
/// keep collisions out of reach while the values stay readable.
const HASH_BYTES: usize = 16;

/// The per-mesh secret of the `hash` action.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MaskKey([u8; 32]);

impl MaskKey {
    pub fn new(bytes: [u8; 32]) -> MaskKey {
        MaskKey(bytes)
    }

    /// The `hash` mask of every value of `array` (read as text: `42` hashes like `'42'`), as a
    /// text array of the same length; NULL stays NULL. The query-time mask and the write path's
    /// stored hashes both come from here, so they are equal by construction.
    pub fn hash_array(&self, array: &ArrayRef) -> Result<ArrayRef> {
        let mac = Hmac::<Sha256>::new_from_slice(&self.0)
            .expect("INVARIANT: HMAC accepts keys of any length");
        let mut out = StringBuilder::with_capacity(array.len(), array.len() * 2 * HASH_BYTES);
        // No allocation per value: the HMAC state is cloned, the hex written in place.
        let mut hex_buf = [0u8; 2 * HASH_BYTES];
        for_each_text(array, |v| match v {
            Some(v) => {
                let mut m = mac.clone();
                m.update(v.as_bytes());
                hex::encode_to_slice(&m.finalize().into_bytes()[..HASH_BYTES], &mut hex_buf)
                    .expect("INVARIANT: the buffer holds two hex digits per byte");
                out.append_value(
                    std::str::from_utf8(&hex_buf).expect("INVARIANT: hex digits are ASCII"),
                );
            }
            None => out.append_null(),
        })?;
        Ok(Arc::new(out.finish()))
    }
}

impl fmt::Debug for MaskKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MaskKey(…)")
    }
}

/// The masking functions of one mesh.
#[derive(Debug, Clone)]
pub struct Masks {
    key: MaskKey,
    hash: Arc<ScalarUDF>,
    mask_email: Arc<ScalarUDF>,
    mask_name: Arc<ScalarUDF>,
    mask_tail: Arc<ScalarUDF>,
    ip_prefix: Arc<ScalarUDF>,
    denied: Arc<ScalarUDF>,
}

impl Masks {
    pub fn new(key: MaskKey) -> Masks {
        let udf = |f: TextFunction| Arc::new(ScalarUDF::new_from_impl(f));
        Masks {
            key: key.clone(),
            hash: Arc::new(ScalarUDF::new_from_impl(HashFunction {
                key,
                signature: Signature::any(1, Volatility::Immutable),
            })),
            mask_email: udf(TextFunction::new(TextOp::MaskEmail)),
            mask_name: udf(TextFunction::new(TextOp::MaskName)),
            mask_tail: udf(TextFunction::new(TextOp::MaskTail)),
            ip_prefix: udf(TextFunction::new(TextOp::IpPrefix)),
            denied: Arc::new(ScalarUDF::new_from_impl(Denied::new())),
        }
    }

    /// The key of the `hash` action, for the write path's stored hashes.
    pub fn key(&self) -> &MaskKey {
        &self.key
    }

    /// The expression that shows `value` (a column of type `data_type` classified as
    /// `category`, named `qualified_name` in errors) under `action`. `stored` is the column
    /// holding the value's stored hash, where the table has one, as an expression.
    pub fn apply(
        &self,
        action: &Action,
        category: Category,
        value: Expr,
        data_type: &DataType,
        qualified_name: &str,
        stored: Option<(&StoredHash, Expr)>,
    ) -> Result<Expr> {
        let text = is_text(data_type);
        Ok(match action {
            Action::Redact { marker: Some(m) } if text => lit(m.clone()),
            Action::Redact { .. } => lit(ScalarValue::try_new_null(data_type)?),
            Action::Hash => match stored {
                // Text like the computed hash, whatever type the scan reads it as.
                Some((hash, column)) if hash.complete => cast_expr(column, DataType::Utf8),
                // CASE evaluates its ELSE branch only on the rows no WHEN took, so the HMAC
                // runs only for rows written without a stored hash.
                Some((_, column)) => when(column.clone().is_not_null(), column)
                    .otherwise(self.hash.call(vec![value]))?,
                None => self.hash.call(vec![value]),
            },
            Action::Mask => match category {
                Category::Email => self.mask_email.call(vec![value]),
                Category::PersonName => self.mask_name.call(vec![value]),
                _ => self.mask_tail.call(vec![value]),
            },
            Action::Generalize => self.generalize(category, value, data_type)?,
            Action::Deny => self
                .denied
                .call(vec![value, lit(qualified_name.to_string())]),
        })
    }

    /// Coarser values where the type or category has a coarser form; NULL where it has none.
    fn generalize(&self, category: Category, value: Expr, data_type: &DataType) -> Result<Expr> {
        use datafusion::functions::expr_fn::{date_trunc, round};
        Ok(match data_type {
            DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _) => {
                cast_expr(date_trunc(lit("year"), value), data_type.clone())
            }
            DataType::Float16
            | DataType::Float32
            | DataType::Float64
            | DataType::Decimal128(..) => cast_expr(
                round(vec![cast_expr(value, DataType::Float64), lit(1i64)]),
                data_type.clone(),
            ),
            t if is_text(t) && category == Category::IpAddress => self.ip_prefix.call(vec![value]),
            t if is_text(t) && category == Category::DateOfBirth => {
                // ISO dates as text: keep the year.
                datafusion::functions::expr_fn::left(value, lit(4i64))
            }
            _ => lit(ScalarValue::try_new_null(data_type)?),
        })
    }
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum TextOp {
    MaskEmail,
    MaskName,
    MaskTail,
    IpPrefix,
}

/// A function from any value (read as text) to text.
#[derive(Debug, PartialEq, Eq, Hash)]
struct TextFunction {
    op: TextOp,
    signature: Signature,
}

impl TextFunction {
    fn new(op: TextOp) -> TextFunction {
        TextFunction {
            op,
            signature: Signature::any(1, Volatility::Immutable),
        }
    }

    fn apply_one(&self, value: &str) -> String {
        match &self.op {
            TextOp::MaskEmail => match value.rsplit_once('@') {
                Some((_, domain)) => format!("***@{domain}"),
                None => mask_tail(value),
            },
            TextOp::MaskName => mask_name(value),
            TextOp::MaskTail => mask_tail(value),
            TextOp::IpPrefix => ip_prefix(value),
        }
    }
}

impl ScalarUDFImpl for TextFunction {
    fn name(&self) -> &str {
        match self.op {
            TextOp::MaskEmail => "agora_mask_email",
            TextOp::MaskName => "agora_mask_name",
            TextOp::MaskTail => "agora_mask_tail",
            TextOp::IpPrefix => "agora_ip_prefix",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [input] = args.args.as_slice() else {
            return exec_err!("{} takes one argument", self.name());
        };
        let array: ArrayRef = input.to_array(args.number_rows)?;
        let mut out = StringBuilder::with_capacity(array.len(), array.len() * 8);
        for_each_text(&array, |v| match v {
            Some(v) => out.append_value(self.apply_one(v)),
            None => out.append_null(),
        })?;
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// The `hash` action: the keyed HMAC of any value read as text.
#[derive(Debug, PartialEq, Eq, Hash)]
struct HashFunction {
    key: MaskKey,
    signature: Signature,
}

impl ScalarUDFImpl for HashFunction {
    fn name(&self) -> &str {
        "agora_hash"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [input] = args.args.as_slice() else {
            return exec_err!("agora_hash takes one argument");
        };
        let array = input.to_array(args.number_rows)?;
        Ok(ColumnarValue::Array(self.key.hash_array(&array)?))
    }
}

/// Calls `f` with each value of `array` as text: string arrays are read in place, other types
/// are cast to text first (so `42` hashes like `'42'` and joins with it).
fn for_each_text(array: &ArrayRef, mut f: impl FnMut(Option<&str>)) -> Result<()> {
    match array.data_type() {
        DataType::Utf8View => array.as_string_view().iter().for_each(f),
        DataType::Utf8 => array.as_string::<i32>().iter().for_each(f),
        DataType::LargeUtf8 => array.as_string::<i64>().iter().for_each(f),
        _ => {
            let text = cast(array, &DataType::Utf8)?;
            text.as_string::<i32>().iter().for_each(&mut f);
        }
    }
    Ok(())
}

/// Keeps the last 4 letters and digits when at least 8 are left hidden (`**** **** **** 4242`);
/// shorter values are hidden whole, since their last 4 would be most of them. Separators stay.
fn mask_tail(value: &str) -> String {
    let alnum = value.chars().filter(|c| c.is_alphanumeric()).count();
    let keep = if alnum >= 12 { 4 } else { 0 };
    let mut seen = 0;
    value
        .chars()
        .map(|c| {
            if !c.is_alphanumeric() {
                return c;
            }
            seen += 1;
            if seen > alnum - keep { c } else { '*' }
        })
        .collect()
}

/// Initials: `Jean-Luc Picard` → `J. P.`.
fn mask_name(value: &str) -> String {
    value
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .map(|c| format!("{c}."))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The network of an address: IPv4 /24, IPv6 /48; text that is not an address is hidden whole.
fn ip_prefix(value: &str) -> String {
    match value.trim().parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        Ok(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
        Err(_) => "*".repeat(value.chars().count().min(8)),
    }
}

/// Stands for a denied column; planning refuses it, and running it fails as a second guard.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Denied {
    signature: Signature,
}

impl Denied {
    fn new() -> Denied {
        Denied {
            signature: Signature::any(2, Volatility::Volatile),
        }
    }
}

impl ScalarUDFImpl for Denied {
    fn name(&self) -> &str {
        DENIED_FUNCTION
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let column = match args.args.get(1) {
            Some(ColumnarValue::Scalar(ScalarValue::Utf8(Some(c)))) => c.clone(),
            _ => "a denied column".to_string(),
        };
        exec_err!("reading {column} is denied by policy")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_only_what_the_policy_promises() {
        assert_eq!(mask_tail("4242 4242 4242 4242"), "**** **** **** 4242");
        assert_eq!(mask_tail("+44 20 7946 0958"), "+** ** **** 0958");
        assert_eq!(mask_tail("1234"), "****");
        assert_eq!(mask_name("Jean-Luc Picard"), "J. P.");
        assert_eq!(ip_prefix("192.168.7.21"), "192.168.7.0/24");
        assert_eq!(
            ip_prefix("2001:db8:85a3::8a2e:370:7334"),
            "2001:db8:85a3::/48"
        );
        assert_eq!(ip_prefix("not an ip"), "********");
    }
}
