//! Map states: the item processor (a sub-program), items, concurrency and tolerated
//! failures.

use serde_json::Value;

use super::super::*;
use super::fields::{Fields, check_sub_program_keys};
use super::{parse_program, query_language};

impl Fields<'_, '_> {
    pub(super) fn map(&mut self, language: QueryLanguage) -> Option<MapState> {
        for unsupported in ["ItemReader", "ResultWriter", "ItemBatcher"] {
            if self.obj.contains_key(unsupported) {
                self.err(
                    unsupported,
                    ValidationErrorKind::UnsupportedFeature,
                    format!("{unsupported} (distributed Map over S3) is not supported by the local engine"),
                );
            }
        }
        let (key, proc_obj) = match (self.obj.get("ItemProcessor"), self.obj.get("Iterator")) {
            (Some(_), Some(_)) => {
                self.err(
                    "Iterator",
                    ValidationErrorKind::InvalidValue,
                    "ItemProcessor and Iterator are mutually exclusive",
                );
                return None;
            }
            (Some(v), None) => ("ItemProcessor", v),
            (None, Some(v)) => ("Iterator", v),
            (None, None) => {
                self.err(
                    "ItemProcessor",
                    ValidationErrorKind::MissingField,
                    "a Map state needs ItemProcessor (or the legacy Iterator)",
                );
                return None;
            }
        };
        let p = self.at(key);
        let Some(proc_obj) = proc_obj.as_object() else {
            self.cx.err(
                &p,
                ValidationErrorKind::InvalidType,
                format!("{key} must be an object"),
            );
            return None;
        };
        let mut mode = MapMode::Inline;
        if let Some(cfg) = proc_obj.get("ProcessorConfig") {
            match cfg.get("Mode").and_then(Value::as_str) {
                Some("INLINE") | None => {}
                Some("DISTRIBUTED") => mode = MapMode::Distributed,
                Some(other) => self.cx.err(
                    &format!("{p}/ProcessorConfig/Mode"),
                    ValidationErrorKind::InvalidValue,
                    format!("Mode must be INLINE or DISTRIBUTED, not {other}"),
                ),
            }
        }
        check_sub_program_keys(proc_obj, &p, self.cx.errors, &["ProcessorConfig"]);
        let lang = query_language(proc_obj, &p, language, self.cx.errors);
        let processor = parse_program(proc_obj, &p, lang, self.cx.errors);
        let items_path = self.data_path("ItemsPath");
        let item_selector = match (
            self.template("ItemSelector"),
            self.obj.contains_key("Parameters"),
        ) {
            (Some(_), true) => {
                self.err(
                    "Parameters",
                    ValidationErrorKind::InvalidValue,
                    "ItemSelector and Parameters are mutually exclusive",
                );
                None
            }
            (Some(t), false) => Some(t),
            (None, _) => self.template("Parameters"),
        };
        let max_concurrency = self.number_source("MaxConcurrency", "MaxConcurrencyPath", 0.0);
        let tolerated_failure_count =
            self.number_source("ToleratedFailureCount", "ToleratedFailureCountPath", 0.0);
        let tolerated_failure_percentage = self.number_source(
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
            0.0,
        );
        if let Some(NumberSource::Literal(p)) = &tolerated_failure_percentage
            && *p > 100.0
        {
            self.err(
                "ToleratedFailurePercentage",
                ValidationErrorKind::InvalidValue,
                "ToleratedFailurePercentage must be between 0 and 100",
            );
        }
        let label = self
            .obj
            .get("Label")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let result_selector = self.template("ResultSelector");
        let result_path = self.result_path("ResultPath");
        let errors = self.error_handling();
        Some(MapState {
            processor: processor?,
            mode,
            items_path,
            item_selector,
            max_concurrency,
            tolerated_failure_count,
            tolerated_failure_percentage,
            label,
            result_selector,
            result_path,
            errors,
        })
    }
}
