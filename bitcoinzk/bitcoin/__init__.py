"""bitcoinzk.bitcoin"""
