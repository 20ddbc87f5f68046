//! Data contracts: the documented subset of the Open Data Contract Standard v3.
//!
//! Agora reads these ODCS fields and acts on them:
//!
//! | level | fields |
//! | --- | --- |
//! | contract | `apiVersion` (v3.x), `kind`, `id`, `name`, `dataProduct`, `version`, `status`, `domain`, `description` (text or `purpose`/`usage`/`limitations`), `schema`, `team`, `slaProperties`, `tags` |
//! | schema object (a table) | `name`, `physicalName`, `businessName`, `logicalType`, `physicalType`, `description`, `properties`, `quality`, `tags` |
//! | property (a column) | `name`, `logicalType`, `physicalType`, `required`, `unique`, `primaryKey`, `primaryKeyPosition`, `classification`, `description`, `businessName`, `quality`, `tags`, `examples`, `customProperties` (`outliersBy`) |
//!
//! A number property's custom property `outliersBy` names another property of its table: the
//! row-level outlier check judges the column's values within each group of that column's
//! values (an amount against the amounts of its region) instead of against the whole batch.
//!
//! A property-level `quality` rule `invalidValues` with `arguments.validValues` and no tolerance
//! (`mustBe: 0` or no threshold) is an enumeration: rows with other values are quarantined.
//! Every other field is kept (the whole document is stored) and reported as a warning, never an
//! error. The product's name is `dataProduct` if given, else `name`, else `id`.
//!
//! The parser stays in one file with its tests (about 720 lines), so that every field of the
//! table above can be checked against the code that reads it.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::odcs_reader::Obj;
use crate::{ColumnType, ModelError, Name};

/// The product description: ODCS v3 uses an object, older documents a plain string.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Description {
    pub purpose: Option<String>,
    pub usage: Option<String>,
    pub limitations: Option<String>,
}

impl Description {
    /// All parts as one text, for display and search.
    pub fn text(&self) -> String {
        [&self.purpose, &self.usage, &self.limitations]
            .into_iter()
            .flatten()
            .cloned()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A column of a contract table.
#[derive(Debug, Clone, PartialEq)]
pub struct ContractColumn {
    /// The name as written in the contract.
    pub name: String,
    /// The SQL identifier (see [`Name`]).
    pub sql_name: Name,
    pub column_type: ColumnType,
    pub logical_type: Option<String>,
    pub physical_type: Option<String>,
    pub required: bool,
    pub unique: bool,
    pub primary_key: bool,
    pub classification: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<String>,
    /// An enumeration, from an `invalidValues` quality rule with `validValues`.
    pub valid_values: Option<Vec<String>>,
    /// The SQL name of the column whose groups this number column's outliers are judged within
    /// (custom property `outliersBy`).
    pub outliers_by: Option<Name>,
    pub quality: Vec<Value>,
}

/// A table of a product: one `schema` object of its contract.
#[derive(Debug, Clone, PartialEq)]
pub struct ContractTable {
    pub name: String,
    pub sql_name: Name,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub columns: Vec<ContractColumn>,
    pub quality: Vec<Value>,
    /// The contract's `slaProperties` whose `element` names this table (`table.column`).
    pub sla: Vec<Value>,
}

impl ContractTable {
    pub fn column(&self, sql_name: &str) -> Option<&ContractColumn> {
        self.columns
            .iter()
            .find(|c| c.sql_name.as_str() == sql_name)
    }

    /// The table's Arrow schema: every column nullable (required-ness is checked by
    /// validation, so that adding columns to a table with data never fails).
    pub fn arrow_schema(&self) -> arrow_schema::SchemaRef {
        std::sync::Arc::new(arrow_schema::Schema::new(
            self.columns
                .iter()
                .map(|c| {
                    arrow_schema::Field::new(c.sql_name.as_str(), c.column_type.arrow.clone(), true)
                })
                .collect::<Vec<_>>(),
        ))
    }
}

/// A major.minor.patch version; missing parts count as 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SemVer {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
}

impl SemVer {
    pub fn parse(raw: &str) -> Option<SemVer> {
        let core = raw.trim().trim_start_matches('v');
        let core = core.split(['-', '+']).next()?;
        let mut parts = core.split('.').map(|p| p.parse::<u64>());
        let major = parts.next()?.ok()?;
        let minor = parts.next().unwrap_or(Ok(0)).ok()?;
        let patch = parts.next().unwrap_or(Ok(0)).ok()?;
        parts.next().is_none().then_some(SemVer {
            major,
            minor,
            patch,
        })
    }
}

/// A data contract, as far as Agora acts on it.
#[derive(Debug, Clone, PartialEq)]
pub struct Contract {
    pub api_version: String,
    pub id: String,
    pub name: Option<String>,
    pub data_product: Option<String>,
    pub version: String,
    pub semver: SemVer,
    pub status: String,
    pub domain: Option<String>,
    pub description: Description,
    pub tags: Vec<String>,
    pub team: Option<Value>,
    pub sla_properties: Vec<Value>,
    tables: Vec<ContractTable>,
}

/// A parsed contract and what in it Agora keeps but does not act on.
#[derive(Debug, Clone)]
pub struct ParsedContract {
    pub contract: Contract,
    /// The original document as JSON, kept whole in the catalog.
    pub document: Value,
    pub warnings: Vec<String>,
}

/// One difference between the schemas of two versions of a contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaChange {
    pub table: String,
    pub description: String,
    /// Whether readers of data already stored would break.
    pub breaking: bool,
}

impl Contract {
    /// Parses an ODCS v3 YAML document. Malformed YAML and contracts missing what Agora needs are
    /// errors that name the line or the field; unknown fields are warnings.
    pub fn from_yaml(yaml: &str) -> Result<ParsedContract, ModelError> {
        let value: serde_norway::Value =
            serde_norway::from_str(yaml).map_err(|e| match e.location() {
                Some(loc) => ModelError::MalformedYaml {
                    line: loc.line(),
                    column: loc.column(),
                    message: strip_location(&e.to_string()),
                },
                None => ModelError::MalformedYaml {
                    line: 0,
                    column: 0,
                    message: e.to_string(),
                },
            })?;
        let document = serde_json::to_value(&value).map_err(|e| {
            ModelError::InvalidContract(format!("the document cannot be represented as JSON: {e}"))
        })?;
        let mut unused = BTreeSet::new();
        let contract = {
            let root = Obj::root(&document)?;
            let c = parse_contract(&root)?;
            root.collect_unused(&mut unused);
            c
        };
        let warnings = unused
            .into_iter()
            .map(|path| format!("field `{path}` is kept but not used by Agora"))
            .chain(contract.tables.iter().flat_map(type_warnings))
            .chain(
                contract
                    .tables
                    .iter()
                    .filter(|t| t.columns.is_empty())
                    .map(|t| {
                        format!(
                            "schema object `{}` has no properties: no table is created",
                            t.name
                        )
                    }),
            )
            .collect();
        Ok(ParsedContract {
            contract,
            document,
            warnings,
        })
    }

    /// The product this contract describes: `dataProduct`, else `name`, else `id`.
    pub fn product_name(&self) -> Result<Name, ModelError> {
        let raw = self
            .data_product
            .as_deref()
            .or(self.name.as_deref())
            .unwrap_or(&self.id);
        Name::normalize("product", raw)
    }

    /// The tables of the product: schema objects that have at least one property.
    pub fn tables(&self) -> Vec<&ContractTable> {
        self.tables
            .iter()
            .filter(|t| !t.columns.is_empty())
            .collect()
    }

    pub fn table(&self, sql_name: &str) -> Option<&ContractTable> {
        self.tables()
            .into_iter()
            .find(|t| t.sql_name.as_str() == sql_name)
    }

    /// Compares the schema of `self` (stored) with `new`, table by table and column by column.
    pub fn schema_changes(&self, new: &Contract) -> Vec<SchemaChange> {
        let mut changes = Vec::new();
        for old_t in self.tables() {
            let Some(new_t) = new.table(old_t.sql_name.as_str()) else {
                changes.push(SchemaChange {
                    table: old_t.sql_name.to_string(),
                    description: format!("table `{}` is dropped", old_t.sql_name),
                    breaking: true,
                });
                continue;
            };
            let t = old_t.sql_name.to_string();
            for old_c in &old_t.columns {
                let c = &old_c.sql_name;
                match new_t.column(c.as_str()) {
                    None => changes.push(SchemaChange {
                        table: t.clone(),
                        description: format!("column `{t}.{c}` is dropped"),
                        breaking: true,
                    }),
                    Some(new_c) if new_c.column_type != old_c.column_type => {
                        let breaking = !old_c.column_type.widens_to(&new_c.column_type);
                        let how = if breaking {
                            "narrowed or changed"
                        } else {
                            "widened"
                        };
                        changes.push(SchemaChange {
                            table: t.clone(),
                            description: format!(
                                "column `{t}.{c}` type is {how} from {} to {}",
                                old_c.column_type.arrow, new_c.column_type.arrow
                            ),
                            breaking,
                        })
                    }
                    Some(new_c) if new_c.required && !old_c.required => {
                        changes.push(SchemaChange {
                            table: t.clone(),
                            description: format!("column `{t}.{c}` becomes required"),
                            breaking: true,
                        })
                    }
                    Some(_) => {}
                }
            }
            for new_c in &new_t.columns {
                if old_t.column(new_c.sql_name.as_str()).is_none() {
                    changes.push(SchemaChange {
                        table: t.clone(),
                        description: format!(
                            "column `{t}.{}` is added{}",
                            new_c.sql_name,
                            if new_c.required { " as required" } else { "" }
                        ),
                        breaking: new_c.required,
                    });
                }
            }
        }
        for new_t in new.tables() {
            if self.table(new_t.sql_name.as_str()).is_none() {
                changes.push(SchemaChange {
                    table: new_t.sql_name.to_string(),
                    description: format!("table `{}` is added", new_t.sql_name),
                    breaking: false,
                });
            }
        }
        changes
    }
}

fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

fn type_warnings(table: &ContractTable) -> Vec<String> {
    table
        .columns
        .iter()
        .filter_map(|c| {
            ColumnType::resolve(c.logical_type.as_deref(), c.physical_type.as_deref())
                .1
                .map(|w| format!("column `{}.{}`: {w}", table.sql_name, c.sql_name))
        })
        .collect()
}

fn parse_contract(root: &Obj) -> Result<Contract, ModelError> {
    let api_version = root.required_str("apiVersion")?;
    if !api_version.starts_with("v3") {
        return Err(ModelError::InvalidContract(format!(
            "`apiVersion: {api_version}` is not supported: Agora reads ODCS v3 contracts"
        )));
    }
    let kind = root.required_str("kind")?;
    if kind != "DataContract" {
        return Err(ModelError::InvalidContract(format!(
            "`kind: {kind}` is not a data contract (expected `DataContract`)"
        )));
    }
    let version = root.required_str("version")?;
    let semver = SemVer::parse(&version).ok_or_else(|| {
        ModelError::InvalidContract(format!(
            "`version: {version}` is not a semantic version like 1.2.0"
        ))
    })?;
    let description = match root.get("description") {
        None | Some(Value::Null) => Description::default(),
        Some(Value::String(s)) => Description {
            purpose: Some(s.clone()),
            ..Default::default()
        },
        Some(_) => {
            let d = root
                .object("description")?
                .expect("INVARIANT: checked non-null above");
            let desc = Description {
                purpose: d.opt_str("purpose")?,
                usage: d.opt_str("usage")?,
                limitations: d.opt_str("limitations")?,
            };
            d.collect_into(root);
            desc
        }
    };
    let mut tables = Vec::new();
    for obj in root.objects("schema")? {
        tables.push(parse_table(&obj)?);
        obj.collect_into(root);
    }
    let sla_properties = root.array("slaProperties")?.to_vec();
    attach_sla(&mut tables, &sla_properties);
    let mut seen = BTreeSet::new();
    for t in &tables {
        if !seen.insert(t.sql_name.clone()) {
            return Err(ModelError::InvalidContract(format!(
                "two schema objects are both named `{}` once normalised to SQL",
                t.sql_name
            )));
        }
    }
    Ok(Contract {
        api_version,
        id: root.required_str("id")?,
        name: root.opt_str("name")?,
        data_product: root.opt_str("dataProduct")?,
        version,
        semver,
        status: root.required_str("status")?,
        domain: root.opt_str("domain")?,
        description,
        tags: root.strings("tags")?,
        team: root.raw("team"),
        sla_properties,
        tables,
    })
}

fn parse_table(obj: &Obj) -> Result<ContractTable, ModelError> {
    let name = obj.required_str("name")?;
    // The SQL name follows `name`; `physicalName` is where the source system keeps it.
    let _ = obj.opt_str("physicalName")?;
    let _ = obj.opt_str("businessName")?;
    let _ = obj.opt_str("logicalType")?;
    let _ = obj.opt_str("physicalType")?;
    let sql_name = Name::normalize("table", &name)?;
    // SQL names each table's quarantine `table__quarantine`, its results `table__quality`, its
    // batch metrics `table__metrics` and its flagged events `table__events`.
    for (suffix, what) in [
        ("__quarantine", "the quarantine"),
        ("__quality", "the quality results"),
        ("__metrics", "the batch metrics"),
        ("__events", "the flagged events"),
    ] {
        if let Some(base) = sql_name.as_str().strip_suffix(suffix) {
            return Err(ModelError::InvalidContract(format!(
                "table `{name}`: a name ending in `{suffix}` is kept for {what} of table `{base}`"
            )));
        }
    }
    let mut columns = Vec::new();
    for prop in obj.objects("properties")? {
        columns.push(parse_column(&prop)?);
        prop.collect_into(obj);
    }
    let mut seen = BTreeSet::new();
    for c in &columns {
        if !seen.insert(c.sql_name.clone()) {
            return Err(ModelError::InvalidContract(format!(
                "{}: two properties are both named `{}` once normalised to SQL",
                obj.path, c.sql_name
            )));
        }
    }
    resolve_outlier_groups(&obj.path, &mut columns)?;
    Ok(ContractTable {
        name,
        sql_name,
        description: obj.opt_str("description")?,
        tags: obj.strings("tags")?,
        columns,
        quality: obj.array("quality")?.to_vec(),
        sla: Vec::new(),
    })
}

/// Gives each table the SLA properties whose `element` (`table.column`, names as the contract
/// writes them or normalised) names it.
fn attach_sla(tables: &mut [ContractTable], sla: &[Value]) {
    for property in sla {
        let Some(element) = property.get("element").and_then(Value::as_str) else {
            continue;
        };
        let Some((table, _)) = element.split_once('.') else {
            continue;
        };
        let normalised = Name::normalize("table", table).ok();
        for t in tables.iter_mut() {
            if t.name == table || normalised.as_ref() == Some(&t.sql_name) {
                t.sla.push(property.clone());
            }
        }
    }
}

fn parse_column(obj: &Obj) -> Result<ContractColumn, ModelError> {
    let name = obj.required_str("name")?;
    let sql_name = Name::normalize("column", &name)?;
    let logical_type = obj.opt_str("logicalType")?;
    let physical_type = obj.opt_str("physicalType")?;
    let (column_type, _) = ColumnType::resolve(logical_type.as_deref(), physical_type.as_deref());
    let quality = obj.array("quality")?.to_vec();
    let outliers_by = custom_property(obj, "outliersBy")?;
    let _ = obj.raw("primaryKeyPosition");
    let _ = obj.raw("examples");
    let _ = obj.opt_str("businessName")?;
    Ok(ContractColumn {
        valid_values: enumeration(&quality),
        name,
        sql_name,
        column_type,
        logical_type,
        physical_type,
        required: obj.bool("required")?,
        unique: obj.bool("unique")?,
        primary_key: obj.bool("primaryKey")?,
        classification: obj.opt_str("classification")?,
        description: obj.opt_str("description")?,
        tags: obj.strings("tags")?,
        outliers_by: outliers_by
            .map(|group| Name::normalize("column", &group))
            .transpose()?,
        quality,
    })
}

/// The value of the ODCS custom property `property` (`customProperties: [{property, value}]`),
/// which must be text.
fn custom_property(obj: &Obj, property: &str) -> Result<Option<String>, ModelError> {
    for (i, entry) in obj.array("customProperties")?.iter().enumerate() {
        if entry.get("property").and_then(Value::as_str) != Some(property) {
            continue;
        }
        return match entry.get("value") {
            Some(Value::String(v)) => Ok(Some(v.clone())),
            other => Err(ModelError::InvalidContract(format!(
                "{}.customProperties[{i}]: `{property}` takes a column name, not {}",
                obj.path,
                other.map_or("nothing", crate::odcs_reader::kind_of)
            ))),
        };
    }
    Ok(None)
}

/// Checks that each `outliersBy` is set on a number column and names another column of the
/// table (`path` is the table's place in the contract).
fn resolve_outlier_groups(path: &str, columns: &mut [ContractColumn]) -> Result<(), ModelError> {
    let names: Vec<Name> = columns.iter().map(|c| c.sql_name.clone()).collect();
    for c in columns.iter() {
        let Some(group) = &c.outliers_by else {
            continue;
        };
        let problem = if !c.column_type.arrow.is_numeric() {
            Some("outliers are judged for number columns only".to_string())
        } else if group == &c.sql_name {
            Some("a column cannot be grouped by itself".to_string())
        } else if !names.contains(group) {
            Some(format!(
                "the table has no column `{group}` (it has {})",
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(ModelError::InvalidContract(format!(
                "{path}: property `{}` has customProperties outliersBy `{group}`: {problem}",
                c.name
            )));
        }
    }
    Ok(())
}

/// An `invalidValues` rule with `validValues` and no tolerance is a row-level enumeration.
fn enumeration(quality: &[Value]) -> Option<Vec<String>> {
    quality.iter().find_map(|rule| {
        let rule = rule.as_object()?;
        if rule.get("metric")?.as_str()? != "invalidValues" {
            return None;
        }
        let tolerance = ["mustBeLessThan", "mustBeLessOrEqualTo", "mustBeBetween"]
            .iter()
            .any(|k| rule.contains_key(*k));
        let must_be_zero = rule.get("mustBe").is_none_or(|v| v.as_f64() == Some(0.0));
        if tolerance || !must_be_zero {
            return None;
        }
        let values = rule.get("arguments")?.get("validValues")?.as_array()?;
        Some(
            values
                .iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Null => None,
                    other => Some(other.to_string()),
                })
                .collect(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDERS: &str = r#"
apiVersion: v3.0.2
kind: DataContract
id: sales-orders
name: orders
version: 1.0.0
status: active
domain: sales
description:
  purpose: Orders placed by customers
schema:
  - name: orders
    properties:
      - name: order_id
        logicalType: integer
        required: true
        unique: true
      - name: status
        logicalType: string
        quality:
          - metric: invalidValues
            arguments:
              validValues: [open, shipped]
            mustBe: 0
servers:
  - server: x
"#;

    #[test]
    fn parses_subset_and_warns_on_the_rest() {
        let p = Contract::from_yaml(ORDERS).unwrap();
        let t = p.contract.table("orders").unwrap();
        assert_eq!(t.columns.len(), 2);
        assert!(t.columns[0].required && t.columns[0].unique);
        assert_eq!(
            t.columns[1].valid_values.as_deref(),
            Some(&["open".to_string(), "shipped".to_string()][..])
        );
        assert_eq!(
            p.warnings,
            vec!["field `servers` is kept but not used by Agora".to_string()]
        );
    }

    #[test]
    fn outliers_by_names_another_column_or_the_contract_is_refused() {
        let with = |group: &str, on: &str| {
            let yaml = ORDERS.replace(
                &format!("      - name: {on}\n"),
                &format!(
                    "      - name: {on}\n        customProperties:\n          - property: outliersBy\n            value: {group}\n"
                ),
            );
            Contract::from_yaml(&yaml).map(|p| p.contract.table("orders").unwrap().clone())
        };
        let t = with("Status", "order_id").unwrap();
        assert_eq!(
            t.columns[0].outliers_by.as_ref().unwrap().as_str(),
            "status"
        );
        let err = with("region", "order_id").unwrap_err().to_string();
        assert!(
            err.contains("schema[0]") && err.contains("no column `region`"),
            "{err}"
        );
        let err = with("order_id", "order_id").unwrap_err().to_string();
        assert!(err.contains("grouped by itself"), "{err}");
        let err = with("order_id", "status").unwrap_err().to_string();
        assert!(err.contains("number columns only"), "{err}");
        let err = with("[a, b]", "order_id").unwrap_err().to_string();
        assert!(
            err.contains("customProperties[0]") && err.contains("takes a column name"),
            "{err}"
        );
    }

    #[test]
    fn malformed_yaml_names_line_and_column() {
        let err = Contract::from_yaml("apiVersion: v3.0.2\nkind: [unclosed\n").unwrap_err();
        match err {
            ModelError::MalformedYaml { line, .. } => assert!(line >= 2),
            other => panic!("expected a YAML error, got {other:?}"),
        }
    }

    #[test]
    fn wrong_field_types_name_the_field() {
        let yaml = ORDERS.replace("required: true", "required: maybe");
        let err = Contract::from_yaml(&yaml).unwrap_err().to_string();
        assert!(err.contains("schema[0].properties[0].required"), "{err}");
    }

    #[test]
    fn dropping_a_column_or_narrowing_is_breaking_adding_is_not() {
        let old = Contract::from_yaml(ORDERS).unwrap().contract;
        let dropped = ORDERS.replace(
            "      - name: status\n        logicalType: string\n",
            "      - name: status\n        logicalType: string\n      - name: note\n        logicalType: string\n",
        );
        let new = Contract::from_yaml(&dropped).unwrap().contract;
        let changes = old.schema_changes(&new);
        assert_eq!(changes.len(), 1);
        assert!(!changes[0].breaking);
        let changes = new.schema_changes(&old);
        assert!(changes[0].breaking, "{changes:?}");
        let narrowed = ORDERS.replace("logicalType: integer", "physicalType: int");
        let new = Contract::from_yaml(&narrowed).unwrap().contract;
        assert!(old.schema_changes(&new)[0].breaking);
    }

    #[test]
    fn every_odcs_example_parses() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/conformance/odcs/examples"
        );
        let Ok(entries) = std::fs::read_dir(dir) else {
            panic!("conformance examples not found at {dir}");
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let yaml = std::fs::read_to_string(&path).unwrap();
            let parsed =
                Contract::from_yaml(&yaml).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            parsed.contract.product_name().unwrap();
        }
    }

    #[test]
    fn semver_parsing() {
        assert_eq!(SemVer::parse("1.1.0").unwrap().major, 1);
        assert_eq!(SemVer::parse("v2").unwrap().major, 2);
        assert!(SemVer::parse("one").is_none());
    }
}
