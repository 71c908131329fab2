// Role assignments on the workspace, the storage account, the container registry or the resource
// group. assignments: [{principal, role, scope}] with scope workspace | storage |
// container_registry | resource_group;
// principals: {<principal>: {id, type}}; roleIds: {<role name>: <built-in role GUID>}.

param assignments array
param principals object
param roleIds object
param workspaceName string
param storageAccountName string
param containerRegistryName string

var workspaceScoped = filter(assignments, ra => ra.scope == 'workspace')
var storageScoped = filter(assignments, ra => ra.scope == 'storage')
var registryScoped = filter(assignments, ra => ra.scope == 'container_registry')
var resourceGroupScoped = filter(assignments, ra => ra.scope == 'resource_group')

resource workspace 'Microsoft.MachineLearningServices/workspaces@2024-10-01-preview' existing = {
  name: workspaceName
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource onWorkspace 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for ra in workspaceScoped: {
  name: guid(workspace.id, principals[ra.principal].id, roleIds[ra.role])
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds[ra.role])
    principalId: principals[ra.principal].id
    principalType: principals[ra.principal].type
  }
}]

resource onStorage 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for ra in storageScoped: {
  name: guid(storage.id, principals[ra.principal].id, roleIds[ra.role])
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds[ra.role])
    principalId: principals[ra.principal].id
    principalType: principals[ra.principal].type
  }
}]

resource containerRegistry 'Microsoft.ContainerRegistry/registries@2025-04-01' existing = {
  name: containerRegistryName
}

resource onContainerRegistry 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for ra in registryScoped: {
  name: guid(containerRegistry.id, principals[ra.principal].id, roleIds[ra.role])
  scope: containerRegistry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds[ra.role])
    principalId: principals[ra.principal].id
    principalType: principals[ra.principal].type
  }
}]

resource onResourceGroup 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for ra in resourceGroupScoped: {
  name: guid(resourceGroup().id, principals[ra.principal].id, roleIds[ra.role])
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds[ra.role])
    principalId: principals[ra.principal].id
    principalType: principals[ra.principal].type
  }
}]
