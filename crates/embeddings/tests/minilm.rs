//! The real encoder, as the set-up step installs it in this checkout (`.local/text`): similar
//! sentences are closer than unrelated ones, and a text embeds (almost) the same alone or
//! padded in a batch.

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
    assert!(
        late > color + 0.15,
        "delivery vs parcel {late}, delivery vs color {color}"
    );
    // Int8 activations are scaled per batch, so batch-mates may move a text a little; padding
    // itself is masked out.
    let alone = model.embed(&texts[..1]).unwrap();
    let same = cosine(&alone[0], &batch[0]);
    assert!(same > 0.99, "alone vs in a batch: cosine {same}");
    let padded_alike = model.embed(&[texts[0], texts[0], texts[3]]).unwrap();
    assert!(
        (cosine(&padded_alike[0], &padded_alike[1]) - 1.0).abs() < 1e-5,
        "the same text in one batch embeds the same"
    );
}

#[test]
fn missing_files_are_named() {
    let error = Embedder::load(&ModelFiles::in_dir(std::path::Path::new("/nonexistent")), 1)
        .err()
        .unwrap();
    assert!(
        error
            .to_string()
            .contains("/nonexistent/minilm/sentiment-encoder.onnx"),
        "{error}"
    );
}
