"""The 好差评 evaluation device (评价器) at a service window.

`python -m evaluator --config device-configs/evaluator-1.yaml` runs it. Layers:
`viewmodel` (screen logic, no Kivy), `pending` (ratings kept on disk until the
hub acknowledges them), `delivery` (sends them), `service` (MQTT topics to
view-model), `keys` (the serial key box front end), `runtime` (wiring), `app`
and `kv/` (the Kivy screens). See docs/evaluator.md.
"""
