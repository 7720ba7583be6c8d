"""Line integration, Qt-free: the PLC handshake over OPC UA (`opcua_server`), results to MQTT through
a durable outbox (`outbox`, `mqtt_publisher`, `messages`), GigE Vision cameras through Aravis
(`aravis_camera`), settings (`config`), and loopback stand-ins for tests and benchmarks
(`local_services`, `plc_sim`). The Qt adapter is `desktop_app.line_bridge`."""
