//! The trained model: multinomial logistic regression from column features to categories.
//! Small enough to read (one weight per feature and category) and to ship in the crate.

use agora_model::Category;
use serde::{Deserialize, Serialize};

use crate::features::{FEATURES, feature_names};

/// The weights as stored in `model/weights.json` (written by `agora-bench-classify train`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Weights {
    /// How the weights were made: corpus, columns, epochs, regularisation.
    pub trained_on: String,
    /// Feature names in order: the file is refused if they do not match the code's.
    pub features: Vec<String>,
    /// Category names in order.
    pub classes: Vec<String>,
    /// One row per class, one weight per feature.
    pub weights: Vec<Vec<f64>>,
}

impl Weights {
    /// All-zero weights over the code's features and classes, for training to start from.
    pub fn zero(trained_on: String) -> Weights {
        Weights {
            trained_on,
            features: feature_names(),
            classes: Category::ALL.iter().map(|c| c.to_string()).collect(),
            weights: vec![vec![0.0; FEATURES]; Category::ALL.len()],
        }
    }

    /// Checks that the file was trained on the features and classes this code computes.
    pub fn check(&self) -> Result<(), String> {
        if self.features != feature_names() {
            return Err("the weights were trained on other features: retrain the model".into());
        }
        let classes: Vec<String> = Category::ALL.iter().map(|c| c.to_string()).collect();
        if self.classes != classes || self.weights.iter().any(|row| row.len() != FEATURES) {
            return Err("the weights do not match the categories and features".into());
        }
        Ok(())
    }

    /// Class probabilities for one feature vector.
    pub fn probabilities(&self, features: &[f64]) -> Vec<f64> {
        let scores: Vec<f64> = self
            .weights
            .iter()
            .map(|row| row.iter().zip(features).map(|(w, x)| w * x).sum())
            .collect();
        softmax(&scores)
    }
}

/// Softmax, shifted by the maximum so large scores do not overflow.
pub fn softmax(scores: &[f64]) -> Vec<f64> {
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exp: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
    let sum: f64 = exp.iter().sum();
    exp.iter().map(|e| e / sum).collect()
}
