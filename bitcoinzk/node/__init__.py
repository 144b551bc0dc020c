"""bitcoinzk.node"""
