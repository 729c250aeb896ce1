//! The real model, as the set-up step installs it in this checkout (`.local/text`): similar
//! sentences are close, unrelated ones far, and a text embeds the same alone or padded in a
//! batch.

use embeddings::{cosine, Embedder, ModelFiles, DIMENSIONS};

fn embedder() -> Embedder {
    // The set-up step's folder holds the Hutto texts beside the model.
    let dir = text::hutto::checkout_dir().parent().unwrap().to_owned();
    Embedder::load(&ModelFiles::in_dir(&dir), 1).expect("the set-up step installed the model")
}

#[test]
fn similar_sentences_are_close_and_padding_changes_nothing() {
    let model = embedder();
    let texts = [
        "The delivery was late",
        "My parcel arrived late",
        "I love the color",
        "A much longer sentence about something else entirely, so that the others are padded.",
    ];
    let batch = model.embed(&texts).unwrap();
    assert_eq!(batch.len(), 4);
    for v in &batch {
        assert_eq!(v.len(), DIMENSIONS);
        assert!((cosine(v, v) - 1.0).abs() < 1e-5);
    }
    let late = cosine(&batch[0], &batch[1]);
    let color = cosine(&batch[0], &batch[2]);
    assert!((late - 0.71).abs() < 0.03, "delivery vs parcel {late}");
    assert!((color - 0.14).abs() < 0.05, "delivery vs color {color}");
    let alone = model.embed(&texts[..1]).unwrap();
    let drift: f32 = alone[0]
        .iter()
        .zip(&batch[0])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(drift < 1e-4, "padding moved the embedding by {drift}");
}

#[test]
fn missing_files_are_named() {
    let error = Embedder::load(&ModelFiles::in_dir(std::path::Path::new("/nonexistent")), 1)
        .err()
        .unwrap();
    assert!(
        error.to_string().contains("/nonexistent/minilm/model.onnx"),
        "{error}"
    );
}
