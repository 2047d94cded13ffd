"""Chatbot flows (AUT-2): the graph format (`spec`), the checker run on save (`checker`),
saving and publishing (`service`) and the runner of conversations (`engine`)."""
