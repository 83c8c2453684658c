"""The dynamic check: run the real model on a small batch in an isolated worker process.

`runner` plans and runs worker jobs (no TensorFlow on this side); `worker` and the modules it
imports (`measure`, `reproduce`, `gap`, `loading`, `sample`, `exec_script`) run TensorFlow.
"""
