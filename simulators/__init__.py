"""Headless simulated hall devices and a traffic generator for the demo, tests and benchmarks.

- simulators.devices: SimKiosk, SimWindowDisplay, SimHallDisplay, SimEvaluator
  (each over a real hallbus.DeviceClient);
- simulators.traffic: SimClerk (backend API) and TrafficGenerator (a hall day).
"""
