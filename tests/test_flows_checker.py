"""The chatbot flow checker and service (AUT-2): every refusal with its Portuguese reason,
saving and publishing immutable versions, the answer validators and the menu matching."""
from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest

from backoffice.automation.flows import checker, engine, service, validators
from backoffice.extensions import db
from backoffice.models import ContactField, MessageTemplate
from backoffice.models.automation import Flow, FlowVersion
from backoffice.services import RuleError
from tests.factories import gen_company, gen_department, gen_period, gen_tag, gen_user


def node(kind, nxt=None, **data):
    return {"type": kind, "x": 0, "y": 0, "data": data,
            "next": {"next": nxt} if isinstance(nxt, str) else (nxt or {})}


@pytest.fixture
def world(app):
    with app.app_context():
        company, admin = gen_company("Checa Ltda", "admin@checa.example")
        other, _ = gen_company("Outra Ltda", "admin@outra.example")
        world = SimpleNamespace(
            company=company, admin=admin, other=other,
            vendas=gen_department(company, "Vendas"), alheio=gen_department(other, "Alheio"),
            tag=gen_tag(company, "VIP"), other_tag=gen_tag(other, "Deles"),
            period=gen_period(company, "Comercial"),
            agent=gen_user(company, "agente@checa.example"),
            stranger=gen_user(other, "agente@outra.example"))
        db.session.add(ContactField(company_id=company.id, label="Código ERP", key="codigo_erp"))
        db.session.add(MessageTemplate(company_id=company.id, kind="text", shortcut="/oi",
                                       title="Oi", body="Olá!"))
        db.session.commit()
        yield world


def full_graph(w) -> dict:
    """Every node type, valid."""
    return {"nodes": {
        "start": node("start", "hello"),
        "hello": node("message", "menu", text="Olá {{nome_cliente}}"),
        "menu": node("menu", {"option:0": "ask", "option:1": "vip", "fail": "human"},
                     text="Escolha:", options=["Cadastro", "Falar com vendas"], max_tries=3),
        "ask": node("question", {"next": "erp", "fail": "human"}, text="Seu CPF?",
                    field="document", variable="cpf", validate="cpf_cnpj", max_tries=2),
        "erp": node("question", "call", text="Código?", field="custom:codigo_erp"),
        "call": node("http", {"next": "cond", "error": "human"}, method="POST",
                     url="https://erp.example.com/clientes/{{cpf}}", body='{"cpf": "{{cpf}}"}',
                     map={"situacao": "data.status"}),
        "cond": node("condition", {"yes": "wait", "no": "bye"},
                     condition={"type": "variable", "name": "situacao", "op": "equals",
                                "value": "ativo"}),
        "wait": node("wait", "tpl", minutes=30),
        "tpl": node("message", "bye", template_id=1),
        "vip": node("tag", "sales", tag_id=w.tag.id),
        "sales": node("transfer", department_id=w.vendas.id, text="Situação {{situacao}}"),
        "human": node("transfer", agent_id=w.agent.id),
        "bye": node("end", text="Até mais, {{cpf}}", close=True),
    }}


def reasons(w, g):
    return checker.check(w.company.id, g)


def test_AUT_2_a_flow_with_every_node_type_passes(world):
    assert reasons(world, full_graph(world)) == []


def test_AUT_2_checker_refuses_a_bad_shape(world):
    assert reasons(world, []) == ["O fluxo não está no formato esperado."]
    assert reasons(world, {"nodes": []}) == ["O fluxo não está no formato esperado."]
    too_many = {"nodes": {f"n{i}": node("end") for i in range(201)}}
    assert reasons(world, too_many) == ["O fluxo pode ter no máximo 200 passos."]
    assert reasons(world, {"nodes": {"a b": node("start")}}) == [
        "Identificador de passo inválido: a b."]
    assert reasons(world, {"nodes": {"x": {"type": "robô"}}}) == [
        "Passo (x): tipo de passo desconhecido."]
    assert reasons(world, {"nodes": {"e": node("end")}}) == [
        "O fluxo precisa de exatamente um passo Início."]


def test_AUT_2_checker_refuses_dangling_links(world):
    """AUT-2: an outlet to a missing node, a required outlet unlinked, a menu option
    leading nowhere."""
    g = full_graph(world)
    g["nodes"]["hello"]["next"]["next"] = "sumiu"
    g["nodes"]["cond"]["next"].pop("no")
    g["nodes"]["menu"]["next"].pop("option:1")
    found = reasons(world, g)
    assert 'Mensagem «Olá {{nome_cliente}}»: a saída "seguir" aponta para um passo que não ' \
        'existe (ligação solta).' in found
    assert 'Condição (cond): a saída "não" não está ligada a nenhum passo (ligação solta).' in found
    assert 'Menu «Escolha:»: a opção "2. Falar com vendas" não leva a nenhum passo.' in found


def test_AUT_2_checker_refuses_bad_fields(world, app):
    """AUT-2: each node's fields (questions, menus, waits, tries, texts, ids of the company,
    a public URL)."""
    g = full_graph(world)
    nodes = g["nodes"]
    nodes["ask"]["data"].update(field="", variable="")
    nodes["erp"]["data"].update(field="custom:nao_existe", validate="cor")
    nodes["menu"]["data"].update(options=["Cadastro", " "], max_tries=11)
    nodes["wait"]["data"]["minutes"] = 10081
    nodes["hello"]["data"]["text"] = "Olá {{apelido}}"
    nodes["vip"]["data"]["tag_id"] = world.other_tag.id
    nodes["sales"]["data"]["department_id"] = world.alheio.id
    nodes["human"]["data"]["agent_id"] = world.stranger.id
    nodes["cond"]["data"]["condition"] = {"type": "period", "period_id": 999}
    nodes["tpl"]["data"]["template_id"] = 999
    found = reasons(world, g)
    expected = [
        "Pergunta «Seu CPF?»: escolha o campo do contato ou o nome da variável onde guardar "
        "a resposta.",
        "Pergunta «Código?»: campo do contato desconhecido: custom:nao_existe.",
        "Pergunta «Código?»: validação desconhecida.",
        "Menu «Escolha:»: a opção 2 está vazia.",
        "Menu «Escolha:»: o número de tentativas deve ser de 1 a 10.",
        "Aguardar (wait): o tempo de espera deve ser de 1 a 10080 minutos.",
        "Etiqueta (vip): Escolha uma etiqueta da empresa.",
        "Transferir «Situação {{situacao}}»: Escolha um departamento da empresa.",
        "Transferir (human): Escolha um atendente ativo da empresa.",
        "Condição (cond): Escolha um período de atendimento da empresa.",
        "Mensagem (tpl): Escolha um template de mensagem da empresa.",
    ]
    for reason in expected:
        assert reason in found
    assert any(r.startswith("Mensagem «Olá {{apelido}}»: Variável desconhecida: {{apelido}}")
               for r in found)
    # the question's variable is gone, so are the texts using it
    assert any("{{cpf}}" in r for r in found)


def test_AUT_2_SEC_2_checker_refuses_an_http_node_to_a_private_address(world, app):
    g = full_graph(world)
    g["nodes"]["call"]["data"]["url"] = "http://127.0.0.1/interno"
    app.config["ALLOW_PRIVATE_URLS"] = False
    assert reasons(world, g) == [
        "Requisição HTTP «http://127.0.0.1/interno»: Use um endereço público da internet: "
        "endereços locais ou da rede interna não são aceitos."]
    app.config["ALLOW_PRIVATE_URLS"] = True
    assert reasons(world, g) == []


def test_AUT_2_checker_refuses_unreachable_nodes(world):
    g = full_graph(world)
    g["nodes"]["orphan"] = node("end", text="Ninguém chega aqui")
    assert reasons(world, g) == [
        "Fim «Ninguém chega aqui»: não há caminho do Início até este passo."]


def test_AUT_2_checker_refuses_a_loop_without_exit(world):
    """AUT-2: a menu whose every outlet (fail included) leads back to it: the customer
    could never leave the bot."""
    g = {"nodes": {
        "start": node("start", "menu"),
        "menu": node("menu", {"option:0": "info", "fail": "info"}, text="Menu",
                     options=["Informações"]),
        "info": node("message", "menu", text="Abrimos às 8h."),
    }}
    assert reasons(world, g) == [
        "Menu «Menu»: laço sem saída: a conversa nunca chega a um Fim, a uma transferência "
        "ou a um atendente."]
    del g["nodes"]["menu"]["next"]["fail"]  # unlinked "fail" hands over: an exit
    assert reasons(world, g) == []


def test_AUT_2_checker_refuses_a_cycle_without_a_waiting_node(world):
    """AUT-2: message -> condition -> message would spin without the customer."""
    g = {"nodes": {
        "start": node("start", "say"),
        "say": node("message", "cond", text="De novo"),
        "cond": node("condition", {"yes": "say", "no": "bye"},
                     condition={"type": "period", "period_id": world.period.id}),
        "bye": node("end"),
    }}
    assert reasons(world, g) == [
        "Mensagem «De novo»: laço sem passo de espera: o robô repetiria estes passos sem parar "
        "(inclua um menu, uma pergunta ou uma espera no laço)."]


def test_AUT_2_save_draft_and_publish_immutable_versions(world):
    """AUT-2: an invalid draft is refused with every reason; publishing numbers versions,
    deep-copies the draft and sets the published version; a version never changes."""
    flow = Flow(company_id=world.company.id, name="Principal", draft={})
    db.session.add(flow)
    db.session.flush()
    bad = full_graph(world)
    bad["nodes"]["wait"]["data"]["minutes"] = 0
    bad["nodes"]["orphan"] = node("end")
    with pytest.raises(RuleError) as refused:
        service.save_draft(flow, bad)
    assert str(refused.value) == ("Aguardar (wait): o tempo de espera deve ser de 1 a 10080 "
                                  "minutos.")
    with pytest.raises(RuleError):
        service.publish(flow, world.admin)  # the stored draft ({}) is no flow

    good = full_graph(world)
    service.save_draft(flow, good)
    v1 = service.publish(flow, world.admin)
    good["nodes"]["hello"]["data"]["text"] = "mudou"  # the caller's dict, not the draft
    flow.draft = copy.deepcopy(flow.draft)
    flow.draft["nodes"]["hello"]["data"]["text"] = "Oi de novo"
    v2 = service.publish(flow, world.admin)
    db.session.commit()
    assert (v1.number, v2.number, flow.published_version_id) == (1, 2, v2.id)
    assert v1.graph["nodes"]["hello"]["data"]["text"] == "Olá {{nome_cliente}}"
    assert v2.graph["nodes"]["hello"]["data"]["text"] == "Oi de novo"
    assert v1.published_by_id == world.admin.id
    v1.graph = {"nodes": {}}
    with pytest.raises(RuleError):
        db.session.flush()
    db.session.rollback()
    assert db.session.get(FlowVersion, v1.id).graph["nodes"]["hello"]["data"]["text"] \
        == "Olá {{nome_cliente}}"
    assert service.check is checker.check


ACCEPTED = [
    ("text", "  Maria  ", "Maria"),
    ("number", "1.234,5", "1234.5"),
    ("number", "1.234", "1234"),
    ("number", "3,14", "3.14"),
    ("number", "1,234.50", "1234.5"),
    ("number", "-12", "-12"),
    ("email", " Ana@Exemplo.COM ", "ana@exemplo.com"),
    ("cpf_cnpj", "529.982.247-25", "52998224725"),
    ("cpf_cnpj", "11.222.333/0001-81", "11222333000181"),
    ("phone", "(11) 98765-4321", "+5511987654321"),
    ("phone", "11 8765-4321", "+5511987654321"),
    ("date", "5/3/1990", "05/03/1990"),
    ("date", "29-02-2024", "29/02/2024"),
]
REFUSED = [
    ("text", "   ", "Escreva uma resposta."),
    ("email", "", "Escreva uma resposta."),
    ("number", "doze", "Responda com um número, por exemplo 1.234,50."),
    ("number", "1,2,3", "Responda com um número, por exemplo 1.234,50."),
    ("email", "ana@", "E-mail inválido."),
    ("cpf_cnpj", "111.111.111-11",
     "CPF inválido: números com todos os dígitos iguais não existem."),
    ("cpf_cnpj", "529.982.247-24", "CPF inválido: confira os dígitos."),
    ("cpf_cnpj", "123", "CPF/CNPJ inválido: o CPF tem 11 dígitos e o CNPJ 14."),
    ("phone", "12345", "Telefone inválido. Use DDD e número, por exemplo (11) 98765-4321."),
    ("date", "31/02/2024", "Responda com uma data no formato dd/mm/aaaa."),
    ("date", "2024-02-01", "Responda com uma data no formato dd/mm/aaaa."),
]


def test_AUT_2_question_validations_accept_normalise_or_refuse(app):
    """AUT-2 question validations: each kind, valid (stored normalised) and invalid (the
    reason the customer reads)."""
    with app.test_request_context():
        for kind, typed, stored in ACCEPTED:
            assert validators.validate(kind, typed) == stored, typed
        for kind, typed, reason in REFUSED:
            with pytest.raises(RuleError) as refused:
                validators.validate(kind, typed)
            assert str(refused.value) == reason, typed


@pytest.mark.parametrize("typed, chosen", [
    ("2", 1), (" 2 ", 1), ("2.", 1), ("2)", 1), ("9", None),
    ("vendas", 0), ("VENDAS", 0), ("Suporte Técnico", 1), ("quero suporte tecnico já", 1),
    ("vendas e suporte tecnico", None), ("vendedor", None), ("", None), ("banana", None),
])
def test_AUT_2_menu_takes_the_number_or_the_words(typed, chosen):
    assert engine.choose_option(["Vendas", "Suporte técnico"], typed) == chosen
