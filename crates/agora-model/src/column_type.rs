//! From ODCS `logicalType` / `physicalType` to the Arrow type a column is stored as.
//!
//! `physicalType` wins when Agora recognises it (`varchar(18)`, `bigint`, `decimal(12,2)`, …),
//! otherwise `logicalType` decides. Delta Lake has no time-of-day, list-without-item-type or
//! free-form object type, so `time`, `array` and `object` columns are stored as UTF-8 text
//! (ISO time, JSON text). Timestamps are stored in UTC.

use arrow_schema::{DataType, TimeUnit};

/// The storage type of a contract column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnType {
    pub arrow: DataType,
}

impl ColumnType {
    /// Resolves a column's type. Returns the type and, when neither type was recognised, a
    /// warning saying the column falls back to text.
    pub fn resolve(logical: Option<&str>, physical: Option<&str>) -> (Self, Option<String>) {
        if let Some(t) = physical.and_then(from_physical) {
            return (ColumnType { arrow: t }, None);
        }
        if let Some(t) = logical.and_then(from_logical) {
            return (ColumnType { arrow: t }, None);
        }
        let warning = match (logical, physical) {
            (None, None) => None,
            _ => Some(format!(
                "type (logicalType {:?}, physicalType {:?}) is not recognised; stored as text",
                logical.unwrap_or("-"),
                physical.unwrap_or("-")
            )),
        };
        (
            ColumnType {
                arrow: DataType::Utf8,
            },
            warning,
        )
    }

    /// Whether changing from `self` to `new` keeps every stored value readable without loss.
    pub fn widens_to(&self, new: &ColumnType) -> bool {
        use DataType::*;
        let (a, b) = (&self.arrow, &new.arrow);
        a == b
            || matches!(
                (a, b),
                (Int8, Int16 | Int32 | Int64)
                    | (Int16, Int32 | Int64)
                    | (Int32, Int64)
                    | (Float32, Float64)
                    | (Date32, Timestamp(_, _))
            )
            || matches!((a, b), (Decimal128(p1, s1), Decimal128(p2, s2)) if s2 >= s1 && (*p2 as i16 - *s2 as i16) >= (*p1 as i16 - *s1 as i16))
    }
}

fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn from_logical(logical: &str) -> Option<DataType> {
    Some(match logical.trim().to_ascii_lowercase().as_str() {
        "string" | "time" | "object" | "array" => DataType::Utf8,
        "date" => DataType::Date32,
        "timestamp" => timestamp(),
        "number" => DataType::Float64,
        "integer" => DataType::Int64,
        "boolean" => DataType::Boolean,
        _ => return None,
    })
}

fn from_physical(physical: &str) -> Option<DataType> {
    let lower = physical.trim().to_ascii_lowercase();
    let (base, args) = match lower.split_once('(') {
        Some((base, rest)) => (base.trim(), rest.trim_end_matches(')').trim()),
        None => (lower.as_str(), ""),
    };
    Some(match base {
        "varchar" | "char" | "nvarchar" | "nchar" | "text" | "string" | "character varying"
        | "uuid" | "json" | "jsonb" | "time" | "list" | "array" | "struct" | "object" | "map" => {
            DataType::Utf8
        }
        "tinyint" | "byte" | "int8_t" => DataType::Int8,
        "smallint" | "int2" | "short" => DataType::Int16,
        "int" | "integer" | "int4" => DataType::Int32,
        "bigint" | "int8" | "long" => DataType::Int64,
        "float" | "float4" | "real" => DataType::Float32,
        "double" | "float8" | "double precision" => DataType::Float64,
        "decimal" | "numeric" | "number" => decimal(args)?,
        "bool" | "boolean" => DataType::Boolean,
        "date" => DataType::Date32,
        "timestamp"
        | "timestamptz"
        | "timestamp_ntz"
        | "datetime"
        | "timestamp with time zone"
        | "timestamp without time zone" => timestamp(),
        "binary" | "bytea" | "blob" | "varbinary" => DataType::Binary,
        _ => return None,
    })
}

fn decimal(args: &str) -> Option<DataType> {
    if args.is_empty() {
        return Some(DataType::Decimal128(38, 10));
    }
    let mut parts = args.split(',').map(|p| p.trim().parse::<u8>());
    let precision = parts.next()?.ok()?;
    let scale = match parts.next() {
        Some(s) => s.ok()?,
        None => 0,
    };
    // Delta Lake allows precision 1..=38 and a scale no larger than the precision.
    (1..=38)
        .contains(&precision)
        .then_some(())
        .filter(|_| scale <= precision)?;
    Some(DataType::Decimal128(precision, scale as i8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn physical_type_wins_then_logical() {
        let r = |l, p| ColumnType::resolve(l, p).0.arrow;
        assert_eq!(r(Some("string"), Some("varchar(18)")), DataType::Utf8);
        assert_eq!(
            r(Some("number"), Some("decimal(12,2)")),
            DataType::Decimal128(12, 2)
        );
        assert_eq!(r(Some("integer"), Some("int")), DataType::Int32);
        assert_eq!(r(Some("integer"), None), DataType::Int64);
        assert_eq!(r(Some("date"), Some("weird")), DataType::Date32);
        assert_eq!(r(None, None), DataType::Utf8);
        assert!(ColumnType::resolve(Some("quantum"), None).1.is_some());
    }

    #[test]
    fn widening_is_lossless_only() {
        let t = |d| ColumnType { arrow: d };
        assert!(t(DataType::Int32).widens_to(&t(DataType::Int64)));
        assert!(!t(DataType::Int64).widens_to(&t(DataType::Int32)));
        assert!(!t(DataType::Utf8).widens_to(&t(DataType::Int64)));
        assert!(t(DataType::Decimal128(10, 2)).widens_to(&t(DataType::Decimal128(12, 2))));
        assert!(!t(DataType::Decimal128(10, 2)).widens_to(&t(DataType::Decimal128(10, 3))));
    }
}
